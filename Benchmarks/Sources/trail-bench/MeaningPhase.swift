import Foundation
import NIOCore
import TrailEmbedding
import TrailProtocol

/// The meaning phase (recall by meaning, contract §8), one system at a time:
///
/// 1. one question embedded alone in this process, for each of the
///    questions the ladder asks (what every sense by meaning pays first);
/// 2. embedding throughput: distinct notes of about 100 and 2,000 bytes
///    deposited into a fresh traild with 1, then 2 embedding threads, timed
///    from the first deposit until `trail.stats` says none is pending; the
///    same texts through the encoder in this process, for reference; then
///    ONNX Runtime on the same questions and notes (`OnnxRuntimePeer`);
/// 3. traild's memory with the model and no note, against without it;
/// 4. the ladder, one store growing through the sizes: the new notes go in
///    through `trail.import` (model off), their vectors straight into
///    `note_vector` (`SyntheticVectors`, stamp = seq); traild without the
///    model for its memory; then with it, timed from ready until every
///    vector is loaded, and `trail.sense {similar, limit: 10}` for each
///    question, one after another on one connection; then sqlite-vec's exact
///    nearest 10 over the same vectors and questions, and traild's recall@10
///    against it.
final class MeaningPhase {
    let config: BenchConfiguration
    let work: String
    let modelDir: String
    let log: (String) -> Void
    private let encoder: SentenceEncoder
    private var remarks: [String] = []
    /// Every note weighs 1 and the namespace's half-life is a century, so
    /// traild's order (similarity, then weight) is the order of similarity
    /// alone, which sqlite-vec's is.
    static let ns = "meaning"
    static let k = 10
    static let warmupQuestions = 5
    /// What a sense of 10 asks of the index (MeaningSearch: max(64, 4 × limit)).
    static let candidates = 64

    init(config: BenchConfiguration, work: String, modelDir: String, log: @escaping (String) -> Void) throws {
        self.config = config
        self.work = work + "/meaning"
        self.modelDir = modelDir
        self.log = log
        do {
            encoder = try SentenceEncoder(directory: modelDir)
        } catch {
            throw BenchFailure("the embedding model in \(modelDir) cannot be loaded (\(error)); run `make model`")
        }
        try FileManager.default.createDirectory(atPath: self.work, withIntermediateDirectories: true)
    }

    func run() async throws -> MeaningResults {
        let all = Prose.questions(config.meaningQueries + Self.warmupQuestions)
        let questions = Array(all.prefix(config.meaningQueries))
        let warmup = Array(all.suffix(Self.warmupQuestions))

        // 1. One question at a time, as the daemon embeds a `similar`.
        var embedding = makeHistogram()
        var questionVectors: [[Float]] = []
        for q in questions {
            let t0 = monoNanos()
            questionVectors.append(encoder.embed(q))
            embedding.record(monoNanos() - t0)
        }
        let queryEmbedding = Percentiles(embedding)
        log("meaning: one question embedded in process p50 \(Format.ms(queryEmbedding.p50)) ms, p99 \(Format.ms(queryEmbedding.p99)) ms")
        let queryRows = try FloatRows(path: work + "/questions.f32")
        try queryRows.append(questionVectors)

        var results = MeaningResults(model: encoder.name, dimensions: encoder.dimensions, baseVectors: 0,
                                     queries: questions.count, queryEmbedding: queryEmbedding)
        let notes = noteSets()
        results.throughput = try await throughput(notes)
        results.onnxRuntime = onnxRuntime(questions: questions, warmup: warmup, vectors: questionVectors, notes: notes)
        results.contested = try await contestedSense()
        results.modelAlone = try await modelAlone()
        try await ladder(questions: questions, questionVectors: questionVectors, warmup: warmup, queryRows: queryRows, into: &results)
        results.remarks = remarks
        return results
    }

    // MARK: throughput

    /// Distinct notes of about 100 and 2,000 bytes, what every embedder of the phase is given.
    private func noteSets() -> [(bytes: Int, texts: [String])] {
        [(100, config.embedNotesSmall), (2000, config.embedNotesLarge)].map { bytes, count in
            (bytes, (0..<count).map { Prose.note($0, bytes: bytes, salt: "embed\(bytes)") })
        }
    }

    private func throughput(_ sets: [(bytes: Int, texts: [String])]) async throws -> [EmbeddingThroughput] {
        var out: [EmbeddingThroughput] = []
        for threads in config.embeddingThreads {
            var daemon: [(seconds: Double, deposits: Double)] = []
            try await withTrail("embed-\(threads)", ["--model-dir", modelDir, "--embedding-threads", String(threads)]) { trail in
                for set in sets {
                    daemon.append(try await timeEmbedding(trail, ns: "embed\(set.bytes)", bodies: set.texts))
                }
            }
            for ((bytes, bodies), d) in zip(sets, daemon) {
                let local = encoder.embedTimed(bodies, threads: threads)
                let mean = Double(bodies.reduce(0) { $0 + $1.utf8.count }) / Double(max(1, bodies.count))
                let row = EmbeddingThroughput(targetBytes: bytes, meanBytes: mean, notes: bodies.count, threads: threads,
                                              traildSeconds: d.seconds, depositSeconds: d.deposits, inProcessSeconds: local.seconds)
                out.append(row)
                log("meaning: \(row.notes) notes of ~\(bytes) bytes (mean \(Int(mean))), \(threads) thread(s): traild \(Format.rate(row.traildPerSecond)) notes/s (deposits \(Format.secs(d.deposits))), in process \(Format.rate(row.inProcessPerSecond)) notes/s")
            }
        }
        return out
    }

    // MARK: ONNX Runtime

    /// ONNX Runtime on the same questions and notes (Benchmarks/onnx_minilm.py),
    /// each variant of the model, or none and a remark saying why it did not
    /// run. Each variant's question vectors must agree with this process's
    /// (mean cosine at least 0.95), or the two sides would not be computing
    /// the same thing: the variant is left out and a remark says so.
    private func onnxRuntime(questions: [String], warmup: [String], vectors: [[Float]],
                             notes: [(bytes: Int, texts: [String])]) -> [OnnxRuntimeRun] {
        guard config.onnxRuntime else {
            remarks.append("ONNX Runtime was not run in the \(config.profile.rawValue) profile")
            return []
        }
        guard let script = TrailBench.inRepository("Benchmarks/onnx_minilm.py") else {
            remarks.append("ONNX Runtime was not run: Benchmarks/onnx_minilm.py was not found")
            return []
        }
        let peer = OnnxRuntimePeer(script: script, python: "python3")
        let texts = OnnxRuntimePeer.Texts(questions: questions, warmup: warmup, threads: config.embeddingThreads,
                                          notes: notes.map { .init(bytes: $0.bytes, texts: $0.texts) })
        let report: OnnxRuntimePeer.Report
        do {
            report = try peer.run(texts, tokenizer: modelDir + "/tokenizer.json", work: work)
        } catch {
            let why = (error as? BenchFailure)?.message ?? "\(error)"
            log("meaning: ONNX Runtime did not run: \(why)")
            remarks.append("ONNX Runtime did not run: \(why.prefix(300))")
            return []
        }
        return report.variants.compactMap { variant in
            let cosines = zip(variant.question_vectors, vectors).map { a, b in Double(zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }) }
            let mean = cosines.reduce(0, +) / Double(max(1, cosines.count))
            guard cosines.count == vectors.count, mean >= 0.95 else {
                let why = "its \(cosines.count) question vectors agree with SentenceEncoder's at mean cosine \(mean): not the same model or pipeline"
                log("meaning: ONNX Runtime \(variant.name) left out: \(why)")
                remarks.append("ONNX Runtime \(variant.name) left out: \(why)")
                return nil
            }
            let q = variant.question
            let run = OnnxRuntimeRun(
                version: report.onnxruntime_version, variant: variant.name, package: report.package, modelSHA256: variant.model_sha256,
                question: Percentiles(p50: q.p50_ms, p99: q.p99_ms, p999: q.p999_ms, samples: q.count),
                questionMean: q.mean_ms, lowestCosine: cosines.min() ?? 0, meanCosine: mean,
                throughput: variant.throughput.map {
                    OnnxThroughput(targetBytes: $0.bytes, threads: $0.threads, notes: $0.notes, seconds: $0.seconds, perSecond: $0.per_second, policy: $0.policy)
                })
            log("meaning: ONNX Runtime \(run.version) \(run.variant): one question p50 \(Format.ms(run.question.p50)) ms, p99 \(Format.ms(run.question.p99)) ms; cosine against SentenceEncoder lowest \(String(format: "%.4f", run.lowestCosine)); "
                + run.throughput.map { "\($0.notes) notes of ~\($0.targetBytes) bytes, \($0.threads) thread(s): \(Format.rate($0.perSecond)) notes/s (\($0.policy))" }.joined(separator: "; "))
            return run
        }
    }

    /// Deposits `bodies` (one connection, 16 in flight) and waits until
    /// every one is embedded; returns the seconds from the first deposit
    /// to then, and those the deposits took.
    private func timeEmbedding(_ trail: TrailPeer, ns: String, bodies: [String]) async throws -> (seconds: Double, deposits: Double) {
        let start = monoNanos()
        let result = try await trail.run(LoadPlan(connections: 1, depth: 16, warmup: 0, duration: 0, requestsPerConnection: bodies.count)) { _ in
            DepositBodiesStream(ns: ns, bodies: bodies)
        }
        guard result.total == bodies.count else { throw BenchFailure("traild answered \(result.total) of \(bodies.count) deposits") }
        let deposited = monoNanos()
        try await waitEmbedded(trail, ns: ns, notes: bodies.count, poll: 0.02, timeout: 600)
        let end = monoNanos()
        return (Double(end - start) / 1e9, Double(deposited - start) / 1e9)
    }

    /// Polls `trail.stats` until `embedding` says `notes` embedded and none pending.
    private func waitEmbedded(_ trail: TrailPeer, ns: String, notes: Int, poll: Double, timeout: Double) async throws {
        let deadline = monoNanos() + UInt64(timeout * 1e9)
        while true {
            let stats = try await trail.call("trail.stats", ["ns": .string(ns)])
            guard let embedding = stats["embedding"], embedding["model"] != nil else {
                throw BenchFailure("traild reports no embedding model (trail.stats embedding is null); its log: \(trail.dir)/traild.log")
            }
            let embedded = Int(embedding["embedded"]?.number ?? -1)
            let pending = Int(embedding["pending"]?.number ?? -1)
            if embedded >= notes && pending == 0 { return }
            guard monoNanos() < deadline else {
                throw BenchFailure("traild embedded \(embedded) of \(notes) notes (\(pending) pending) in \(Int(timeout)) s")
            }
            try await Task.sleep(for: .seconds(poll))
        }
    }

    // MARK: contested notes

    /// What contested notes cost a sense (contract §8): two namespaces of
    /// `embedNotesSmall` notes in pairs that differ in a few words, in one
    /// traild with the model. In `contested` the two notes of a pair differ
    /// in a number (64 MB against 65 MB): each note is contested by its twin
    /// (and by notes of other pairs close enough that say the other number). In `agreeing` they differ in words that decide nothing: no
    /// contest. Then `trail.sense` top 10 by weight in each, one connection
    /// sequential and 16 connections pipelined, the namespaces taking turns.
    private func contestedSense() async throws -> ContestedSense {
        let pairs = max(2, config.embedNotesSmall / 2)
        // Prose ends each body with "(ref N)": a number, which would set two similar bodies of different
        // pairs against each other. Here the reference is a word of letters, which decides nothing.
        func word(_ n: Int) -> String {
            var n = n, out = ""
            repeat { out.append(Character(UnicodeScalar(UInt8(97 + n % 26)))); n /= 26 } while n > 0
            return out
        }
        func bodies(contested: Bool) -> [String] {
            (0..<pairs).flatMap { i -> [String] in
                let base = Prose.note(i, bytes: 100, salt: "contest").replacingOccurrences(of: " (ref \(i))", with: " (ref \(word(i)))")
                return contested ? [base + " Keep the cache under 64 MB.", base + " Keep the cache under 65 MB."]
                    : [base + " Keep the cache under 64 MB.", base + " Keep the cache under 64 MB, as before."]
            }
        }
        return try await withTrail("contested", ["--model-dir", modelDir]) { trail in
            var shownContested: [String: Int] = [:]
            var embedSeconds: [String: Double] = [:]
            for (ns, contested) in [("contested", true), ("agreeing", false)] {
                embedSeconds[ns] = try await timeEmbedding(trail, ns: ns, bodies: bodies(contested: contested)).seconds
            }
            // What the sense reads: how many of the top 10 are contested in each namespace.
            for ns in ["contested", "agreeing"] {
                let top = try await trail.call("trail.sense", ["ns": .string(ns), "limit": 10])
                shownContested[ns] = top["notes"]?.array?.filter { $0["contested_by"] != nil }.count ?? 0
            }
            guard shownContested["contested"] == 10, shownContested["agreeing"] == 0 else {
                throw BenchFailure("of a sense's top 10, \(shownContested["contested"] ?? 0) notes show contested_by in the contested namespace and \(shownContested["agreeing"] ?? 0) in the agreeing one (10 and 0 expected): the measurement would not compare what it says")
            }
            var latency = ["contested": makeHistogram(), "agreeing": makeHistogram()]
            var rate = ["contested": 0.0, "agreeing": 0.0]
            let sequential = LoadPlan(connections: 1, depth: 1, warmup: config.warmup, duration: config.duration)
            let pipelined = LoadPlan(connections: 16, depth: config.pipeline, warmup: config.warmup, duration: config.duration)
            for round in 0..<2 {
                for ns in round == 0 ? ["agreeing", "contested"] : ["contested", "agreeing"] {
                    let one = try await trail.run(sequential) { _ in SenseStream(ns: ns) }
                    let many = try await trail.run(pipelined) { _ in SenseStream(ns: ns) }
                    guard one.errors == 0, many.errors == 0 else { throw BenchFailure("sense in \(ns) answered errors: \(one.firstError ?? many.firstError ?? "?")") }
                    latency[ns]!.add(one.allLatency)
                    rate[ns]! += many.perSecond / 2
                }
            }
            let result = ContestedSense(notes: 2 * pairs, contestedInTop10: 10, agreeingContestedInTop10: 0,
                                        contested: Percentiles(latency["contested"]!), agreeing: Percentiles(latency["agreeing"]!),
                                        contestedPerSecond: rate["contested"]!, agreeingPerSecond: rate["agreeing"]!,
                                        contestedEmbedSeconds: embedSeconds["contested"]!, agreeingEmbedSeconds: embedSeconds["agreeing"]!)
            log("meaning: \(Format.count(result.notes)) twin notes deposited and embedded, agreeing / contested: \(Format.secs(result.agreeingEmbedSeconds)) / \(Format.secs(result.contestedEmbedSeconds)); sense top 10 by weight, agreeing / contested: 1 connection p50 \(Format.ms(result.agreeing.p50)) / \(Format.ms(result.contested.p50)) ms, p99 \(Format.ms(result.agreeing.p99)) / \(Format.ms(result.contested.p99)) ms; 16 × \(config.pipeline) \(Format.rate(result.agreeingPerSecond)) / \(Format.rate(result.contestedPerSecond)) senses/s")
            return result
        }
    }

    // MARK: memory

    /// traild with the model and no note, and without the model: what the
    /// model itself costs (weights, work buffers after one question).
    private func modelAlone() async throws -> MemoryPair {
        let withModel = try await withTrail("empty-model", ["--model-dir", modelDir]) { trail in
            _ = try await trail.call("trail.sense", ["ns": .string(Self.ns), "similar": .string("warm the model up"), "limit": .int(10)])
            _ = try await trail.call("trail.stats", ["ns": .string(Self.ns)])
            return Self.memory(trail.child)
        }
        let without = try await withTrail("empty-plain", ["--no-semantic"]) { trail in
            _ = try await trail.call("trail.sense", ["ns": .string(Self.ns), "limit": .int(10)])
            _ = try await trail.call("trail.stats", ["ns": .string(Self.ns)])
            return Self.memory(trail.child)
        }
        let pair = MemoryPair(rssKiB: Self.minus(withModel.rssKiB, without.rssKiB), anonKiB: Self.minus(withModel.anonKiB, without.anonKiB),
                              peakKiB: Self.minus(withModel.peakKiB, without.peakKiB))
        log("meaning: the model alone adds \(Format.kib(pair.anonKiB)) anonymous memory (\(Format.kib(withModel.anonKiB)) with it, \(Format.kib(without.anonKiB)) without)")
        return pair
    }

    static func memory(_ child: ChildProcess) -> MemoryPair {
        MemoryPair(rssKiB: child.rssKiB, anonKiB: child.anonKiB, peakKiB: child.peakRSSKiB)
    }

    static func minus(_ a: Int?, _ b: Int?) -> Int? {
        guard let a, let b else { return nil }
        return a - b
    }

    // MARK: the ladder

    private func ladder(questions: [String], questionVectors: [[Float]], warmup: [String], queryRows: FloatRows,
                        into results: inout MeaningResults) async throws {
        let ns = Self.ns
        let dir = work + "/ladder"
        let storePath = dir + "/data/trail.db"
        var set = Dataset(name: "meaning", trailsPerNote: 0, proseBytes: 100, weight: 1)
        let landmark = Date()

        // The real embeddings: the first notes' own bodies.
        let baseCount = min(config.meaningBaseVectors, config.sizes.first ?? 0)
        let base = encoder.embedTimed((0..<baseCount).map { set.note($0).body }, threads: 2)
        log("meaning: embedded the first \(Format.count(baseCount)) notes in process in \(Format.secs(base.seconds)) (2 threads): the real vectors the others mix")
        let vectors = SyntheticVectors(base: base.vectors)
        results.baseVectors = baseCount
        let vectorRows = try FloatRows(path: work + "/vectors.f32")
        let index = VectorIndex(dimensions: encoder.dimensions)
        var rowOfID: [UInt64: Int] = [:]
        var loaded = 0
        let sqliteVec = makeSqliteVecPeer()

        for size in config.sizes {
            // The notes, as the read workloads load them, with the model off (nothing embeds them).
            let t0 = monoNanos()
            try await withTrail("ladder", ["--no-semantic"]) { trail in
                if loaded == 0 {
                    _ = try await trail.call("trail.namespace.configure", ["ns": .string(ns), "half_life_s": .double(3.15e9)])
                }
                try await trail.load(&set, range: loaded..<size, ns: ns, batch: config.loadBatch, at: landmark)
            }
            let importSeconds = Double(monoNanos() - t0) / 1e9
            let writeSeconds = try VectorPreload.write(store: storePath, ns: ns, set: &set, range: loaded..<size, model: encoder.name,
                                                       vectors: vectors, rows: vectorRows, index: index)
            for i in loaded..<size { rowOfID[Self.idKey(set.id(i))] = i }
            loaded = size
            log("meaning \(Format.count(size)): imported in \(Format.secs(importSeconds)), vectors written in \(Format.secs(writeSeconds))")

            // Without the model: the baseline of memory.
            let without = try await withTrail("ladder", ["--no-semantic"]) { trail in
                _ = try await trail.call("trail.sense", ["ns": .string(ns), "limit": .int(10)])
                _ = try await trail.call("trail.stats", ["ns": .string(ns)])
                return Self.memory(trail.child)
            }

            // The scan alone, in this process, over the same codes.
            var scanning = makeHistogram()
            for v in questionVectors {
                let t = monoNanos()
                _ = index.nearest(ns: ns, to: v, k: index.candidates(for: Self.candidates))
                scanning.record(monoNanos() - t)
            }
            let scan = Percentiles(scanning)
            let indexBytes = index.memoryBytes

            // With the model: load, then the questions.
            let embeddingP50 = results.queryEmbedding.p50
            var step = try await withTrail("ladder", ["--model-dir", modelDir], logLevel: "info") { trail -> (MeaningStep, [[Int]]) in
                let atReady = Self.memory(trail.child)
                let ready = monoNanos()
                try await waitEmbedded(trail, ns: ns, notes: size, poll: 0.2, timeout: 3600)
                let readySeconds = Double(monoNanos() - ready) / 1e9
                let loadedMemory = Self.memory(trail.child)
                await Self.settle(trail.child)
                // The log line follows the last vector into memory by a moment.
                var logged = Self.loadLine(trail.dir + "/traild.log")
                for _ in 0..<50 where logged == nil {
                    try await Task.sleep(for: .milliseconds(100))
                    logged = Self.loadLine(trail.dir + "/traild.log")
                }
                for q in warmup {
                    let answer = try await trail.call("trail.sense", ["ns": .string(ns), "similar": .string(q), "limit": .int(10)])
                    guard answer["notes"]?.array?.count == Self.k else {
                        throw BenchFailure("traild answered a sense by meaning with \(answer["notes"]?.array?.count ?? 0) notes at \(size); expected \(Self.k)")
                    }
                }
                let timed = try await trail.run(LoadPlan(connections: 1, depth: 1, warmup: 0, duration: 0,
                                                         requestsPerConnection: questions.count, keepAnswers: true)) { _ in
                    SimilarStream(ns: ns, questions: questions)
                }
                let latency = Percentiles(timed.allLatency)
                let answers = try Self.answerRows(timed, count: questions.count, rowOfID: rowOfID)
                return (MeaningStep(notes: size, importSeconds: importSeconds, vectorWriteSeconds: writeSeconds,
                                    loadedVectors: logged?.vectors, loadSeconds: logged?.seconds, readySeconds: readySeconds,
                                    traild: latency, traildSearchP50: latency.p50 - embeddingP50,
                                    scan: scan, indexBytes: indexBytes,
                                    withoutModel: without, atReady: atReady, loaded: loadedMemory, afterSenses: Self.memory(trail.child)),
                        answers)
            }
            log("meaning \(Format.count(size)): the index's arrays \(Format.kib(indexBytes / 1024)), its scan in process p50 \(Format.ms(scan.p50)) ms; vectors loaded in \(step.0.loadSeconds.map(Format.secs) ?? "?") (ready to all embedded \(Format.secs(step.0.readySeconds))); sense by meaning p50 \(Format.ms(step.0.traild.p50)) ms, p99 \(Format.ms(step.0.traild.p99)) ms; RSS (anonymous) \(Format.kib(step.0.withoutModel.rssKiB)) (\(Format.kib(step.0.withoutModel.anonKiB))) without the model, \(Format.kib(step.0.loaded.rssKiB)) (\(Format.kib(step.0.loaded.anonKiB))) loaded")

            // sqlite-vec over the same vectors and questions.
            if let peer = sqliteVec {
                do {
                    let report = try peer.run(vectors: vectorRows.path, queries: queryRows.path, dims: encoder.dimensions, k: Self.k,
                                              json: work + "/sqlite-vec-\(size).json")
                    guard report.n == size else { throw BenchFailure("sqlite-vec read \(report.n) vectors, not \(size)") }
                    step.0.sqliteVec = SqliteVecRun(version: report.sqlite_vec_version, sqlite: report.sqlite_version, metric: report.metric,
                                                    queries: report.queries, buildSeconds: report.build_seconds,
                                                    p50: report.p50_ms, p99: report.p99_ms, mean: report.mean_ms)
                    let recalls = zip(step.1, report.results).map { traild, exact in
                        Double(Set(traild).intersection(exact).count) / Double(max(1, exact.count))
                    }
                    step.0.recallAt10 = recalls.reduce(0, +) / Double(max(1, recalls.count))
                    step.0.worstRecallAt10 = recalls.min()
                    log("meaning \(Format.count(size)): sqlite-vec built in \(Format.secs(report.build_seconds)), p50 \(Format.ms(report.p50_ms)) ms, p99 \(Format.ms(report.p99_ms)) ms; traild's recall@10 \(String(format: "%.3f", step.0.recallAt10 ?? 0))")
                } catch {
                    let why = (error as? BenchFailure)?.message ?? "\(error)"
                    log("meaning \(Format.count(size)): sqlite-vec did not run: \(why)")
                    remarks.append("sqlite-vec did not run at \(Format.count(size)) notes: \(why.prefix(300))")
                }
            }
            results.ladder.append(step.0)
        }
    }

    /// sqlite-vec's side, or nil (and a remark saying why) when it does not run.
    private func makeSqliteVecPeer() -> SqliteVecPeer? {
        guard config.sqliteVec else {
            remarks.append("sqlite-vec was not run in the \(config.profile.rawValue) profile")
            return nil
        }
        guard let script = TrailBench.inRepository("Benchmarks/sqlite_vec_knn.py") else {
            remarks.append("sqlite-vec was not run: Benchmarks/sqlite_vec_knn.py was not found")
            return nil
        }
        return SqliteVecPeer(script: script, python: "python3")
    }

    /// The rows (data set indexes) of the notes each answer holds, in question order.
    private static func answerRows(_ result: LoadResult, count: Int, rowOfID: [UInt64: Int]) throws -> [[Int]] {
        guard let lines = result.answers.first, lines.count == count else {
            throw BenchFailure("traild answered \(result.answers.first?.count ?? 0) of \(count) senses by meaning")
        }
        return try (1...count).map { id in
            guard let line = lines[id], let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let notes = (object["result"] as? [String: Any])?["notes"] as? [[String: Any]] else {
                throw BenchFailure("cannot read traild's answer to sense by meaning \(id): \(lines[id]?.prefix(200) ?? "none")")
            }
            return notes.compactMap { ($0["id"] as? String).flatMap { rowOfID[idKey($0)] } }
        }
    }

    static func idKey(_ hex: String) -> UInt64 { UInt64(hex.prefix(16), radix: 16) ?? 0 }

    /// `loaded the stored vectors vectors=N seconds=S` from traild's log.
    static func loadLine(_ path: String) -> (vectors: Int, seconds: Double)? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let line = text.split(separator: "\n").last(where: { $0.contains("loaded the stored vectors") }) else { return nil }
        func value(_ key: String) -> String? {
            guard let range = line.range(of: key + "=") else { return nil }
            return String(line[range.upperBound...].prefix { $0.isNumber || $0 == "." })
        }
        guard let n = value("vectors").flatMap({ Int($0) }), let s = value("seconds").flatMap({ Double($0) }) else { return nil }
        return (n, s)
    }

    /// Waits (at most 60 s) until traild has used under 2 % of a core for a
    /// quarter of a second: the indexer's first scan for notes without a
    /// vector runs after the load, and must not run under the timed senses.
    static func settle(_ child: ChildProcess) async {
        let deadline = monoNanos() + 60_000_000_000
        while monoNanos() < deadline {
            let before = ProcessCPU.seconds(child.pid)
            try? await Task.sleep(for: .milliseconds(250))
            if ProcessCPU.seconds(child.pid) - before < 0.005 { return }
        }
    }

    /// A traild on `work/name` with `arguments`, stopped after `body`.
    private func withTrail<T>(_ name: String, _ arguments: [String], logLevel: String = "warning",
                              _ body: (TrailPeer) async throws -> T) async throws -> T {
        let peer = try await TrailPeer(executable: config.traild, dir: work + "/" + name, arguments: arguments, logLevel: logLevel)
        do {
            let value = try await body(peer)
            await peer.stop()
            return value
        } catch {
            await peer.stop()
            throw error
        }
    }
}

// MARK: the request streams of the meaning phase

/// Deposits of given bodies into `ns`, in order.
struct DepositBodiesStream: RequestStream {
    let ns: String
    let bodies: [String]
    var n = 0

    mutating func next(id: Int, into buffer: inout ByteBuffer) -> Int {
        buffer.beginRequest(id: id, method: "trail.deposit")
        buffer.writeStaticString(#"{"ns":"#)
        buffer.writeJSONString(ns)
        buffer.writeStaticString(#","body":"#)
        buffer.writeJSONString(bodies[n % bodies.count])
        buffer.writeStaticString("}")
        buffer.endRequest()
        n += 1
        return 0
    }
}

/// `trail.sense {similar: QUESTION, limit: 10}`, a different question each time, in order.
struct SimilarStream: RequestStream {
    let ns: String
    let questions: [String]
    var n = 0

    mutating func next(id: Int, into buffer: inout ByteBuffer) -> Int {
        buffer.beginRequest(id: id, method: "trail.sense")
        buffer.writeStaticString(#"{"ns":"#)
        buffer.writeJSONString(ns)
        buffer.writeStaticString(#","similar":"#)
        buffer.writeJSONString(questions[n % questions.count])
        buffer.writeStaticString(#","limit":10}"#)
        buffer.endRequest()
        n += 1
        return 0
    }
}
