import Foundation

/// Renders a run's results: `latest.md` (the table), `latest.json` (every
/// figure) and `sense-latency.svg` (sense latency against store size).
struct Report {
    let results: BenchResults

    func write(to dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try markdown.write(toFile: dir + "/latest.md", atomically: true, encoding: .utf8)
        try writeJSON(results, to: dir + "/latest.json")
        try svg.write(toFile: dir + "/sense-latency.svg", atomically: true, encoding: .utf8)
        print(markdown)
    }

    private func rows(_ workload: String) -> [TableRow] { results.rows.filter { $0.workload == workload } }


    private func p99(_ m: Measure?) -> String {
        guard let l = m?.latency else { return "—" }
        return Format.ms(l.p99)
    }

    /// "p50 ratio / p99 ratio" for latency rows.
    private func latRatio(_ row: TableRow, _ peer: String) -> String {
        guard row.peers[peer] != nil else { return "—" }
        return "\(Format.ratio(row.ratio(peer, percentile: 50))) / \(Format.ratio(row.ratio(peer, percentile: 99)))"
    }

    var markdown: String {
        let r = results
        let m = r.machine
        let ran = phasesRun
        let partial = ran.count < Phase.classic.count
        let only = partial ? " --only \(ran.map(\.rawValue).joined(separator: ","))" : ""
        let target = !partial && r.profile == .full ? "make bench-full" : !partial && r.profile == .quick ? "make bench"
            : "trail-bench --\(r.profile.rawValue)\(only)"
        let what = partial ? ", \(ran.map(\.rawValue).joined(separator: " and ")) only" : ""
        var s = """
            # trail benchmark: \(r.profile.rawValue) run\(what) (`\(target)`)

            Every figure below was measured in one run, on one machine, one system at a time.
            A **ratio** is trail's speed over the peer's: **above 1.00x trail is faster**.
            For rates it is trail ÷ peer; for latencies and times it is peer ÷ trail.

            - **When**: \(r.startedAt), \(Int(r.seconds ?? 0)) s in all
            - **Machine**: \(m.cpu), \(m.cores) cores, \(String(format: "%.0f", m.memoryGiB)) GiB, \(m.kernel); stores on \(m.filesystem); load average \(m.loadAverageStart) at the start, \(m.loadAverageEnd ?? "?") at the end (other work on the machine shows here)
            - **Versions**: traild \(m.traild)\(m.commit.map { " (commit \($0))" } ?? ""), Redis \(m.redis) (\(m.redisBenchmark)), SQLite \(m.sqlite)\(m.swift.map { ", \($0)" } ?? "")
            - **Disk**: \(Format.rate(r.fsyncPerSecond)) fdatasync/s (4 KiB appends): the most durable writes per second without group commit
            - **Runs**: \(Format.secs(r.warmup)) warm-up, then \(Format.secs(r.duration)) measured (redis-benchmark: a probe, then about as long); pipeline depth \(r.pipeline); store sizes \(r.sizes.map(Format.count).joined(separator: ", ")) notes
            - **Peers**: Redis with `appendonly yes`, `appendfsync always`, driven by redis-benchmark; raw SQLite is traild's own schema and SQL in one process, WAL, `synchronous=FULL`\(ran.contains(.meaning) ? "; sqlite-vec (recall by meaning) is an in-memory `vec0` table searched exactly, from Python" : ""); see Benchmarks/README.md for what each system does per request

            """
        if ran.contains(.writes) {
            s += """

            ## Durable writes (an acknowledged write is on disk)

            | workload | trail | Redis | × Redis | raw SQLite, batched | × SQLite | disk syncs | × disk | trail p99 ms | Redis p99 ms |
            |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|

            """
        for row in rows("W1") + rows("W2") {
            s += "| \(row.workload) \(row.title) | \(rateCell(row.trail)) | \(rateCell(row.peers["redis"])) | \(Format.ratio(row.ratio("redis"))) | "
            s += "\(rateCell(row.peers["sqlite"])) | \(Format.ratio(row.ratio("sqlite"))) | \(rateCell(row.peers["fsync"])) | \(Format.ratio(row.ratio("fsync"))) | "
            s += "\(p99(row.trail)) | \(p99(row.peers["redis"])) |\n"
        }
        }
        if ran.contains(.reads) {
        s += """

            ## Reads (1 client, sequential; latency p50 / p99 / p99.9 in ms; ratios at p50 / p99)

            Redis returns whole notes through a Lua function (ZREVRANGEBYSCORE or ZREVRANGE, then HGETALL of each), as trail does;
            the ZREVRANGE column is the bare index read (ids and scores only). Redis has no full-text search (W4).

            | workload | notes | trail | Redis, whole notes | × Redis | Redis ZREVRANGE | × ZREVRANGE | raw SQLite | × SQLite |
            |---|---:|---:|---:|---:|---:|---:|---:|---:|

            """
        for row in rows("W3") + rows("W4") + rows("W5") {
            s += "| \(row.workload) \(row.title) | \(row.notes.map(Format.count) ?? "") | \(latencyCell(row.trail)) | \(latencyCell(row.peers["redis"])) | \(latRatio(row, "redis")) | "
            s += "\(latencyCell(row.peers["redis-zrevrange"])) | \(latRatio(row, "redis-zrevrange")) | \(latencyCell(row.peers["sqlite"])) | \(latRatio(row, "sqlite")) |\n"
        }
        s += """

            ![sense latency against store size](sense-latency.svg)

            ## Mixed load

            | workload | notes | trail | Redis | × Redis | trail p50 / p99 / p99.9 ms | Redis p50 / p99 / p99.9 ms |
            |---|---:|---:|---:|---:|---:|---:|

            """
        for row in rows("W6") {
            s += "| \(row.workload) \(row.title) | \(row.notes.map(Format.count) ?? "") | \(rateCell(row.trail)) | \(rateCell(row.peers["redis"])) | \(Format.ratio(row.ratio("redis"))) | \(latencyCell(row.trail)) | \(latencyCell(row.peers["redis"])) |\n"
            if let how = row.trail.how { s += "\ntrail under the mix: \(how).\n" }
        }
        }
        if ran.contains(.compaction) {
        s += """

            ## Compaction (wall time, seconds)

            | workload | notes | trail `trail.compact` | Redis evaporate (Lua) | × Redis | raw SQLite delete | × SQLite | traild peak RSS |
            |---|---:|---:|---:|---:|---:|---:|---:|

            """
        for row in rows("W7") {
            func secs(_ m: Measure?) -> String { m?.value.map(Format.secs) ?? "—" }
            s += "| \(row.workload) \(row.title) | \(row.notes.map(Format.count) ?? "") | \(secs(row.trail)) | \(secs(row.peers["redis"])) | \(Format.ratio(row.ratio("redis"))) | "
            s += "\(secs(row.peers["sqlite"])) | \(Format.ratio(row.ratio("sqlite"))) | \(Format.kib(r.compactionPeakKiB)) |\n"
            s += "\n"
            for (name, m) in [("trail", row.trail), ("Redis", row.peers["redis"]), ("raw SQLite", row.peers["sqlite"])] {
                if let how = m?.how { s += "- \(name): \(how)\n" }
            }
        }
        }
        if ran.contains(.reads) {
        s += """

            ## Memory: peak resident set (VmHWM) while loading to and reading at each size

            | notes | traild | redis-server | × Redis (Redis ÷ trail) |
            |---:|---:|---:|---:|

            """
        for row in r.memory {
            var ratio: Double?
            if let a = row.traildPeakKiB, let b = row.redisPeakKiB, a > 0 { ratio = Double(b) / Double(a) }
            s += "| \(Format.count(row.notes)) | \(Format.kib(row.traildPeakKiB)) | \(Format.kib(row.redisPeakKiB)) | \(Format.ratio(ratio)) |\n"
        }
        }
        if ran.contains(.meaning) { s += meaningSection }
        s += extendedWindows(r.rows, duration: r.duration)
        s += "\n## Goals\n\n"
        for goal in goals {
            let mark = goal.met.map { $0 ? "met" : "**not met**" } ?? "not measured in this run"
            s += "- \(goal.text): \(goal.figure) — \(mark)\n"
        }
        return s
    }

    /// The phases this run measured, from the rows it has.
    var phasesRun: [Phase] {
        let workloads = Set(results.rows.map(\.workload))
        var out: [Phase] = []
        if workloads.contains("W1") || workloads.contains("W2") { out.append(.writes) }
        if !workloads.isDisjoint(with: ["W3", "W4", "W5", "W6"]) { out.append(.reads) }
        if workloads.contains("W7") { out.append(.compaction) }
        if results.meaning != nil { out.append(.meaning) }
        return out
    }

    /// The project's targets (issue 7, and issue 13's for recall by meaning), each with its figure from this run.
    var goals: [(text: String, figure: String, met: Bool?)] { classicGoals + meaningGoals }

    private var classicGoals: [(text: String, figure: String, met: Bool?)] {
        var out: [(String, String, Bool?)] = []
        guard !rows("W1").isEmpty || !rows("W3").isEmpty else { return [] }
        if !rows("W1").isEmpty {
        let w1 = rows("W1").last
        let w1Redis = w1?.ratio("redis")
        out.append(("durable deposits, \(w1?.title ?? "most clients pipelining") ≥ 1.0x Redis appendfsync always",
                    Format.ratio(w1Redis), w1Redis.map { $0 >= 1 }))
        let w1SQLite = w1?.ratio("sqlite")
        out.append(("the same ≥ 0.5x raw batched SQLite", Format.ratio(w1SQLite), w1SQLite.map { $0 >= 0.5 }))
        }
        guard !rows("W3").isEmpty else { return out }
        let w3 = rows("W3")
        let largest = w3.last
        let size = largest?.notes ?? 0
        let full = size >= 1_000_000
        let at = full ? "" : " (largest size of this profile: \(Format.count(size)) notes; `make bench-full` measures 1M)"
        let p99 = largest?.trail.latency?.p99
        out.append(("sense top 10 p99 ≤ 1 ms at 1M notes", (p99.map { Format.ms($0) + " ms" } ?? "—") + at, full ? p99.map { $0 <= 1 } : nil))
        let zrev = largest?.ratio("redis-zrevrange")
        out.append(("sense top 10 p99 ≥ 1.0x Redis ZREVRANGE at 1M notes", Format.ratio(zrev) + at, full ? zrev.map { $0 >= 1 } : nil))
        if let first = w3.first?.trail.latency, let last = largest?.trail.latency, w3.count > 1 {
            let growth50 = last.p50 / first.p50
            let growth99 = last.p99 / first.p99
            let from = Format.count(w3.first?.notes ?? 0)
            out.append(("sense cost flat from \(from) to \(Format.count(size)) notes (p50 within 1.5x)",
                        String(format: "p50 %.2fx, p99 %.2fx", growth50, growth99), growth50 <= 1.5))
        }
        return out
    }

    // MARK: the chart

    /// Sense top-10 latency (log scale) against store size (log scale) for
    /// trail and Redis, p50 and p99, drawn by hand.
    var svg: String {
        let w3 = rows("W3")
        let series: [(name: String, color: String, dash: Bool, points: [(Double, Double)])] = [
            ("trail p50", "#1f6feb", false, w3.compactMap { r in r.trail.latency.map { (Double(r.notes ?? 1), $0.p50) } }),
            ("trail p99", "#1f6feb", true, w3.compactMap { r in r.trail.latency.map { (Double(r.notes ?? 1), $0.p99) } }),
            ("Redis sense (Lua) p50", "#d1242f", false, w3.compactMap { r in r.peers["redis"]?.latency.map { (Double(r.notes ?? 1), $0.p50) } }),
            ("Redis sense (Lua) p99", "#d1242f", true, w3.compactMap { r in r.peers["redis"]?.latency.map { (Double(r.notes ?? 1), $0.p99) } }),
            ("Redis ZREVRANGE p50", "#bf8700", false, w3.compactMap { r in r.peers["redis-zrevrange"]?.latency.map { (Double(r.notes ?? 1), $0.p50) } }),
            ("Redis ZREVRANGE p99", "#bf8700", true, w3.compactMap { r in r.peers["redis-zrevrange"]?.latency.map { (Double(r.notes ?? 1), $0.p99) } }),
        ]
        let width = 760.0, height = 440.0
        let left = 70.0, right = 230.0, top = 50.0, bottom = 60.0
        let plotW = width - left - right, plotH = height - top - bottom
        let xs = series.flatMap { $0.points.map(\.0) }.filter { $0 > 0 }
        let ys = series.flatMap { $0.points.map(\.1) }.filter { $0 > 0 }
        var x0 = log10(xs.min() ?? 1e4), x1 = log10(xs.max() ?? 1e6)
        if x1 - x0 < 0.5 { x0 -= 0.5; x1 += 0.5 } else { x0 -= 0.15; x1 += 0.15 }
        let y0 = floor(log10(ys.min() ?? 0.01)), y1 = max(y0 + 1, ceil(log10(ys.max() ?? 1)))
        func px(_ x: Double) -> Double { left + (log10(x) - x0) / (x1 - x0) * plotW }
        func py(_ y: Double) -> Double { top + plotH - (log10(y) - y0) / (y1 - y0) * plotH }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }

        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(f(left))" y="24" font-size="15" font-weight="bold">trail.sense top 10 vs Redis: latency against store size (\(results.profile.rawValue) run)</text>
            <text x="\(f(left))" y="40" fill="#555">1 client, sequential; both axes logarithmic; lower is better</text>

            """
        // Horizontal grid: each decade, with 2 and 5 between.
        var decade = y0
        while decade <= y1 {
            for m in [1.0, 2.0, 5.0] {
                let v = m * pow(10, decade)
                guard log10(v) <= y1 + 1e-9 else { continue }
                let y = py(v)
                out += "<line x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(left + plotW))\" y2=\"\(f(y))\" stroke=\"\(m == 1 ? "#ccc" : "#eee")\"/>\n"
                out += "<text x=\"\(f(left - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\" fill=\"#333\">\(Format.ms(v))</text>\n"
            }
            decade += 1
        }
        out += "<text x=\"18\" y=\"\(f(top + plotH / 2))\" transform=\"rotate(-90 18 \(f(top + plotH / 2)))\" text-anchor=\"middle\">latency (ms)</text>\n"
        // Vertical grid: the measured sizes.
        for x in Set(xs).sorted() {
            out += "<line x1=\"\(f(px(x)))\" y1=\"\(f(top))\" x2=\"\(f(px(x)))\" y2=\"\(f(top + plotH))\" stroke=\"#eee\"/>\n"
            out += "<text x=\"\(f(px(x)))\" y=\"\(f(top + plotH + 18))\" text-anchor=\"middle\" fill=\"#333\">\(Format.count(Int(x)))</text>\n"
        }
        out += "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(height - 16))\" text-anchor=\"middle\">notes in the store</text>\n"
        out += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\" fill=\"none\" stroke=\"#888\"/>\n"
        // The goal: p99 at most 1 ms.
        if y1 >= 0 && y0 <= 0 {
            out += "<line x1=\"\(f(left))\" y1=\"\(f(py(1)))\" x2=\"\(f(left + plotW))\" y2=\"\(f(py(1)))\" stroke=\"#2da44e\" stroke-width=\"1.5\" stroke-dasharray=\"2 3\"/>\n"
            out += "<text x=\"\(f(left + plotW - 4))\" y=\"\(f(py(1) + 14))\" text-anchor=\"end\" fill=\"#2da44e\">goal: trail p99 ≤ 1 ms at 1M notes</text>\n"
        }
        for (i, s) in series.enumerated() where !s.points.isEmpty {
            let path = s.points.map { "\(f(px($0.0))),\(f(py($0.1)))" }.joined(separator: " ")
            out += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"2\"\(s.dash ? " stroke-dasharray=\"6 4\"" : "")/>\n"
            for p in s.points {
                out += "<circle cx=\"\(f(px(p.0)))\" cy=\"\(f(py(p.1)))\" r=\"3.5\" fill=\"\(s.dash ? "white" : s.color)\" stroke=\"\(s.color)\" stroke-width=\"1.5\"><title>\(s.name) at \(Format.count(Int(p.0))) notes: \(Format.ms(p.1)) ms</title></circle>\n"
            }
            let ly = top + 10 + Double(i) * 22
            let lx = left + plotW + 16
            out += "<line x1=\"\(f(lx))\" y1=\"\(f(ly))\" x2=\"\(f(lx + 28))\" y2=\"\(f(ly))\" stroke=\"\(s.color)\" stroke-width=\"2\"\(s.dash ? " stroke-dasharray=\"6 4\"" : "")/>\n"
            out += "<text x=\"\(f(lx + 36))\" y=\"\(f(ly + 4))\">\(s.name)</text>\n"
        }
        out += "</svg>\n"
        return out
    }
}

/// A rate cell: "N/s", or "—" when not measured.
func rateCell(_ m: Measure?) -> String {
    guard let v = m?.value else { return "—" }
    return Format.rate(v) + "/s"
}

/// The rows whose measuring window was extended (`MeasuringWindow`): a
/// figure from a longer window than the run's, said in the report rather
/// than hidden; empty when every window held.
func extendedWindows(_ rows: [TableRow], duration: Double) -> String {
    var lines: [String] = []
    for row in rows {
        for (name, m) in [("trail", row.trail)] + row.peers.sorted(by: { $0.key < $1.key }).map({ ($0.key, $0.value) }) {
            guard let note = m.window else { continue }
            lines.append("- \(row.workload) \(row.title)\(row.notes.map { " (\(Format.count($0)) notes)" } ?? ""), \(name): \(note)")
        }
    }
    guard !lines.isEmpty else { return "" }
    return """

        ## Measuring windows extended

        A window of \(Format.secs(duration)) in which nothing that started finished is stretched until something does
        (at most \(Format.secs(MeasuringWindow.limit(duration: duration)))), so that a slow build or machine gives a slower figure, never a zero:

        """ + lines.joined(separator: "\n") + "\n"
}

/// A latency cell: p50 / p99 / p99.9 in ms, or "—" when not measured.
func latencyCell(_ m: Measure?) -> String {
    guard let l = m?.latency else { return "—" }
    return "\(Format.ms(l.p50)) / \(Format.ms(l.p99)) / \(Format.ms(l.p999))"
}

/// Writes `value` as indented JSON with sorted keys and a final newline.
func writeJSON<T: Encodable>(_ value: T, to path: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    var json = try encoder.encode(value)
    json.append(10)
    try json.write(to: URL(fileURLWithPath: path))
}
