import Foundation

/// latest.md's "Recall by meaning" section and its goals.
extension Report {
    /// The section, or "" when the meaning phase did not run.
    var meaningSection: String {
        guard let m = results.meaning else { return "" }
        var s = """

            ## Recall by meaning (\(m.model), \(m.dimensions) dimensions)

            ### Embedding throughput: notes deposited, until `trail.stats` says none is pending

            Distinct English-like notes deposited into a fresh traild (one connection, 16 in flight), timed from the first
            deposit until `embedding.pending` is 0 and `embedded` is all of them; beside it, the same texts through
            `SentenceEncoder` in this process (batches of 32, as traild's indexer), on as many threads.

            | notes | embedding threads | traild | deposits took | SentenceEncoder in process | × in process |
            |---|---:|---:|---:|---:|---:|

            """
        for t in m.throughput {
            let ratio = t.inProcessPerSecond > 0 ? t.traildPerSecond / t.inProcessPerSecond : nil
            s += "| \(Format.count(t.notes)) of ~\(Format.count(t.targetBytes)) bytes (mean \(Format.count(Int(t.meanBytes.rounded())))) | \(t.threads) | "
            s += "\(Format.rate(t.traildPerSecond)) notes/s | \(Format.secs(t.depositSeconds)) | \(Format.rate(t.inProcessPerSecond)) notes/s | \(Format.ratio(ratio)) |\n"
        }
        if let c = m.contested {
            s += """

                ### Contested notes: what they cost a sense by weight

                One traild with the model, two namespaces of \(Format.count(c.notes)) notes in pairs that differ in a few words:
                in *contested* the two notes of a pair differ in a number, so each is contested by the other (\(c.contestedInTop10) of a
                sense's top 10 show `contested_by`); in *agreeing* they differ in words that decide nothing (\(c.agreeingContestedInTop10)
                of 10). Each namespace deposited on one connection (16 in flight) and timed until all its notes are embedded (their
                contests found and stored with their vectors); then `trail.sense` top 10 by weight, two rounds each, the namespaces taking turns; × is agreeing ÷ contested for
                latency, contested ÷ agreeing for the rate (under 1.00x: contests cost that much).

                | | agreeing | contested | × |
                |---|---:|---:|---:|
                | deposited until all embedded (s) | \(Format.secs(c.agreeingEmbedSeconds)) | \(Format.secs(c.contestedEmbedSeconds)) | \(Format.ratio(c.agreeingEmbedSeconds / max(c.contestedEmbedSeconds, 1e-9))) |
                | 1 connection, p50 / p99 (ms) | \(Format.ms(c.agreeing.p50)) / \(Format.ms(c.agreeing.p99)) | \(Format.ms(c.contested.p50)) / \(Format.ms(c.contested.p99)) | \(Format.ratio(c.agreeing.p50 / c.contested.p50)) / \(Format.ratio(c.agreeing.p99 / c.contested.p99)) |
                | 16 connections × \(results.pipeline) pipelined (senses/s) | \(Format.rate(c.agreeingPerSecond)) | \(Format.rate(c.contestedPerSecond)) | \(Format.ratio(c.contestedPerSecond / max(c.agreeingPerSecond, 1e-9))) |

                """
        }
        s += """

            ### Sense by meaning, top 10: traild beside sqlite-vec (1 client, sequential; ms)

            traild: `trail.sense {similar, limit: 10}` on one connection, one request at a time, a different question each
            time (\(Format.count(m.queries)) questions after 5 not timed), the question's embedding included; "search alone" is traild's p50 less
            the p50 of embedding one question in this process (\(Format.ms(m.queryEmbedding.p50)) ms, p99 \(Format.ms(m.queryEmbedding.p99)) ms).
            sqlite-vec: the same questions' vectors (embedded in this process) against the same note vectors, exact nearest 10 in an
            in-memory `vec0` table (Benchmarks/sqlite_vec_knn.py, each query timed alone, no embedding). Ratios are sqlite-vec ÷ traild:
            above 1.00x traild is faster. Recall@10: the share of sqlite-vec's exact nearest 10 that traild answered, mean (worst question).
            The int8 scan: TrailEmbedding's `VectorIndex` in this process holding the same vectors, `nearest(k: \(MeaningPhase.candidates))` per question
            (the candidates a sense of 10 asks of it, before reading them from the store for the exact re-rank).
            Vectors: the first \(Format.count(m.baseVectors)) notes' own embeddings, the others noisy mixtures of two of them (Benchmarks/README.md).

            | notes | traild p50 / p99 / p99.9 | search alone p50 | int8 scan p50 / p99 | sqlite-vec p50 / p99 | × sqlite-vec p50 / p99 | × sqlite-vec, search alone p50 | recall@10 | vectors loaded in |
            |---:|---:|---:|---:|---:|---:|---:|---:|---:|

            """
        for step in m.ladder {
            var vec = "—", ratio = "—", alone = "—", recall = "—"
            if let v = step.sqliteVec {
                vec = "\(Format.ms(v.p50)) / \(Format.ms(v.p99))"
                ratio = "\(Format.ratio(v.p50 / step.traild.p50)) / \(Format.ratio(v.p99 / step.traild.p99))"
                alone = step.traildSearchP50 > 0 ? Format.ratio(v.p50 / step.traildSearchP50) : "—"
            }
            if let r = step.recallAt10 { recall = String(format: "%.3f", r) + (step.worstRecallAt10.map { String(format: " (%.1f)", $0) } ?? "") }
            let loadedIn = step.loadSeconds.map { Format.secs($0) } ?? "?"
            s += "| \(Format.count(step.notes)) | \(Format.ms(step.traild.p50)) / \(Format.ms(step.traild.p99)) / \(Format.ms(step.traild.p999)) | "
            let scan = step.scan.map { "\(Format.ms($0.p50)) / \(Format.ms($0.p99))" } ?? "—"
            s += "\(Format.ms(max(0, step.traildSearchP50))) | \(scan) | \(vec) | \(ratio) | \(alone) | \(recall) | \(loadedIn) |\n"
        }
        if let v = m.ladder.compactMap(\.sqliteVec).first {
            s += "\nsqlite-vec \(v.version) on SQLite \(v.sqlite), \(v.metric) distance; its build (create, inserts, commit): "
            s += m.ladder.compactMap { step in step.sqliteVec.map { "\(Format.secs($0.buildSeconds)) at \(Format.count(step.notes))" } }.joined(separator: ", ")
            s += ".\n"
        }
        s += """

            ### Memory: traild's resident set

            Each cell is VmRSS (RssAnon); VmHWM is the peak since start. VmRSS also counts file pages traild maps (the model's weights;
            before issue 14 the SQLite store too), RssAnon only its own memory: the shares below are RssAnon.
            Without the model: traild `--no-semantic` on the same store after a sense and a stats. The model alone (traild with the
            model and no note, less without it): \(Format.kib(m.modelAlone?.anonKiB)). Recall by meaning's share: vectors loaded less without
            the model less the model alone (the index, the note map, and what loading left allocated). The index's arrays:
            `VectorIndex.memoryBytes` of the same vectors inserted in the same pages of 10,000 in this process.

            | notes | without the model | with it, at ready | vectors loaded / VmHWM | after the senses / VmHWM | recall by meaning's share | per note | the index's arrays | per note |
            |---:|---:|---:|---:|---:|---:|---:|---:|---:|

            """
        func cell(_ p: MemoryPair) -> String { "\(Format.kib(p.rssKiB)) (\(Format.kib(p.anonKiB)))" }
        for step in m.ladder {
            let share = MeaningPhase.minus(MeaningPhase.minus(step.loaded.anonKiB, step.withoutModel.anonKiB), m.modelAlone?.anonKiB)
            let perNote = share.map { Format.count(Int((Double($0) * 1024 / Double(step.notes)).rounded())) + " bytes" } ?? "?"
            let arrays = step.indexBytes.map { Format.kib($0 / 1024) } ?? "?"
            let arraysPerNote = step.indexBytes.map { Format.count(Int((Double($0) / Double(step.notes)).rounded())) + " bytes" } ?? "?"
            s += "| \(Format.count(step.notes)) | \(cell(step.withoutModel)) | \(cell(step.atReady)) | "
            s += "\(cell(step.loaded)) / \(Format.kib(step.loaded.peakKiB)) | \(cell(step.afterSenses)) / \(Format.kib(step.afterSenses.peakKiB)) | "
            s += "\(Format.kib(share)) | \(perNote) | \(arrays) | \(arraysPerNote) |\n"
        }
        if !m.remarks.isEmpty {
            s += "\n" + m.remarks.map { "- \($0)\n" }.joined()
        }
        return s
    }

    /// The goals of recall by meaning (issue 13), each with its figure from this run.
    var meaningGoals: [(text: String, figure: String, met: Bool?)] {
        guard let m = results.meaning else { return [] }
        var out: [(String, String, Bool?)] = []
        let small = m.throughput.filter { $0.targetBytes == 100 }
        if let best = small.max(by: { $0.traildPerSecond < $1.traildPerSecond }) {
            let all = small.map { "\(Format.rate($0.traildPerSecond))/s with \($0.threads) thread\($0.threads == 1 ? "" : "s")" }.joined(separator: ", ")
            out.append(("embedding throughput ≥ 100 notes/s for 100-byte notes on this machine's \(results.machine.cores) cores", all, best.traildPerSecond >= 100))
        }
        for (size, limit) in [(100_000, 20.0), (1_000_000, 50.0)] {
            let text = "sense by meaning p99 ≤ \(Format.ms(limit)) ms at \(Format.count(size)) notes, the query's embedding included"
            if let step = m.ladder.first(where: { $0.notes == size }) {
                out.append((text, Format.ms(step.traild.p99) + " ms", step.traild.p99 <= limit))
            } else {
                out.append((text, "no \(Format.count(size))-note step in this run", nil))
            }
        }
        return out
    }
}
