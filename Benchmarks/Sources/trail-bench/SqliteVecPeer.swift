import Foundation

/// sqlite-vec beside traild: Benchmarks/sqlite_vec_knn.py loads the same
/// vectors into an in-memory vec0 table and answers each question's exact
/// nearest `k` (a full scan), timing each query alone in its own process.
struct SqliteVecPeer {
    /// The script, and the Python to start it with (it finds a Python whose
    /// sqlite3 can load extensions by itself).
    let script: String
    let python: String

    /// The script's report: timings and, per query, the 0-based rows of its nearest, nearest first.
    struct Report: Decodable {
        var sqlite_vec_version: String
        var sqlite_version: String
        var metric: String
        var n: Int
        var queries: Int
        var build_seconds: Double
        var p50_ms: Double
        var p99_ms: Double
        var mean_ms: Double
        var results: [[Int]]
    }

    /// Runs the script over `vectors` (the first rows of the file are all
    /// of it) and `queries`; the report goes to `json`.
    func run(vectors: String, queries: String, dims: Int, k: Int, json: String) throws -> Report {
        _ = try ChildProcess.output(python, [script, "--vectors", vectors, "--queries", queries, "--dims", String(dims),
                                             "--k", String(k), "--json", json])
        do {
            return try JSONDecoder().decode(Report.self, from: Data(contentsOf: URL(fileURLWithPath: json)))
        } catch {
            throw BenchFailure("cannot read sqlite_vec_knn.py's report \(json): \(error)")
        }
    }
}
