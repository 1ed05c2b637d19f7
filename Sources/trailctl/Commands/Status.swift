import ArgumentParser
import TrailClient
import TrailProtocol

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Say whether traild is up, where, on which store, and how busy.",
        discussion: """
        Exit 0 when the daemon answers, 3 when it cannot be reached (the message names the \
        socket tried and how to start traild). The `semantic` line names the embedding model that \
        recall by meaning uses (sense --similar, deposit --merge-similar), or says `off`. With --json, prints \
        {"socket", "socket_origin", "hello", "stats", "namespaces"}: the daemon's answers to \
        trail.hello, trail.stats (for --ns) and trail.namespace.list, unchanged.
        """)

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let location = global.location
        let stats = StatsRequest(ns: global.ns)
        let answers = try await global.withConnection { c in
            await c.pipeline([(HelloRequest(client: "trailctl").method, HelloRequest(client: "trailctl").params),
                              (stats.method, stats.params),
                              (ListNamespacesRequest().method, nil)])
        }
        var raw: [JSONValue] = []
        for answer in answers {
            switch answer {
            case let .success(v): raw.append(v)
            case let .failure(e): throw CtlFailure(e, socket: location)
            }
        }
        if global.json {
            global.printJSON(.object(["socket": .string(location.path), "socket_origin": .string(location.origin),
                                      "hello": raw[0], "stats": raw[1], "namespaces": raw[2]["namespaces"] ?? .array([])]))
            return
        }
        let hello: Hello, s: NamespaceStats, list: [NamespaceSummary]
        do {
            hello = try HelloRequest().decode(raw[0])
            s = try stats.decode(raw[1])
            list = try ListNamespacesRequest().decode(raw[2])
        } catch {
            throw CtlFailure.failed("traild broke the protocol: \(error)")
        }
        let p = Painter.forStdout
        var d = Details()
        d.add("socket", "\(location.path) (\(location.origin))")
        d.add("store", "\(hello.store) at \(hello.database ?? "?"), \(Format.bytes(s.storeBytes))")
        d.add("protocol", String(hello.protocolVersion))
        d.add("uptime", Format.duration(s.uptime))
        d.add("connections", String(s.connections))
        d.add("namespaces", "\(list.count): \(list.map(\.name).joined(separator: ", "))")
        d.add("notes", "\(StatsView.counts(s.counts)) in \(s.ns)")
        d.add("trails", "\(s.counts.edges) in \(s.ns)")
        if let model = hello.semantic {
            let progress = s.embedding.map { "; \($0.embedded) embedded, \($0.pending) pending in \(s.ns)" } ?? ""
            d.add("semantic", "\(model.model), \(model.dimensions) dims\(progress)")
        } else {
            d.add("semantic", "off (no embedding model: --similar and --merge-similar are refused)", .dim)
        }
        Terminal.printOut("\(p.paint("traild \(hello.version)", .bold)) is \(p.paint("up", .green))")
        for line in d.render(p) { Terminal.printOut(line) }
    }
}
