import Foundation
import NIOCore
import NIOHTTP1
import TrailCore

/// Serves the daemon's HTTP listener (issue 15): `GET /healthz` answers 200
/// while the store answers and 503 with the reason when it does not;
/// `GET /metrics` the Prometheus text of `DaemonMetrics`; with the token
/// (`HTTPToken`), `/` the trail map (`MapPage`), `/api/events` a namespace's
/// server-sent events and `/api/...` its JSON (`MapAPI`), 401 without it.
/// Nothing is written through HTTP; anything else is 404 (405 for a method
/// other than GET or HEAD).
final class HTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// Whether the store answers now: nil, or why not.
    private let probe: @Sendable () async -> String?
    /// The Prometheus text of every metric, read now.
    private let scrape: @Sendable () async -> [UInt8]
    /// The trail map's JSON, behind `token`.
    private let api: MapAPI
    private let token: HTTPToken
    private var head: HTTPRequestHead?
    /// This connection holds a server-sent event stream.
    private var streaming = false

    init(probe: @escaping @Sendable () async -> String?, scrape: @escaping @Sendable () async -> [UInt8], api: MapAPI, token: HTTPToken) {
        self.probe = probe
        self.scrape = scrape
        self.api = api
        self.token = token
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .head(request): head = request
        case .body: break
        case .end:
            guard let request = head else { return }
            head = nil
            route(request, context: context)
        }
    }

    private func route(_ request: HTTPRequestHead, context: ChannelHandlerContext) {
        let parts = URLComponents(string: request.uri)
        let path = parts?.path ?? request.uri
        var query: [String: String] = [:]
        for item in parts?.queryItems ?? [] { query[item.name] = item.value ?? "" }
        guard request.method == .GET || request.method == .HEAD else {
            return respond(.methodNotAllowed, "traild's HTTP listener only reads: use GET\n", to: request, context: context)
        }
        switch path {
        case "/healthz":
            let probe = self.probe
            context.eventLoop.makeFutureWithTask { await probe() }.assumeIsolated().whenSuccess { why in
                if let why {
                    self.respond(.serviceUnavailable, "unavailable: \(why)\n", to: request, context: context)
                } else {
                    self.respond(.ok, "ok\n", to: request, context: context)
                }
            }
        case "/metrics":
            let scrape = self.scrape
            context.eventLoop.makeFutureWithTask { await scrape() }.assumeIsolated().whenSuccess { bytes in
                self.respond(.ok, bytes, contentType: "text/plain; version=0.0.4; charset=utf-8", to: request, context: context)
            }
        case _ where path == "/" || path.hasPrefix("/api/"):
            // Note bodies: only with the token, which stands for the daemon's owner.
            let presented = query["token"] ?? request.headers.first(name: "Authorization").flatMap {
                $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil
            }
            guard let presented, token.matches(presented) else {
                return respond(.unauthorized, Array("this page shows notes: give the token from traild's ready line (?token=... or Authorization: Bearer ...)\n".utf8),
                               contentType: "text/plain; charset=utf-8", to: request, context: context, extra: [("WWW-Authenticate", "Bearer")])
            }
            if path == "/" {
                return respond(.ok, Array(MapPage.html.utf8), contentType: "text/html; charset=utf-8", to: request, context: context,
                               extra: [("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")])
            }
            if path == "/api/events" {
                return streamEvents(query, to: request, context: context)
            }
            let api = self.api, asked = query
            context.eventLoop.makeFutureWithTask { await api.answer(path: path, query: asked) }.assumeIsolated().whenSuccess { a in
                self.respond(a.status, a.body, contentType: a.contentType, to: request, context: context)
            }
        default:
            respond(.notFound, "no such page: \(path)\n", to: request, context: context)
        }
    }

    /// `GET /api/events?ns=`: the namespace's watch events as server-sent
    /// events, until the client goes (the trail map's live view).
    private func streamEvents(_ query: [String: String], to request: HTTPRequestHead, context: ChannelHandlerContext) {
        let ns: String
        do {
            ns = try Validate.namespace(query["ns"] ?? "default")
        } catch {
            let a = HTTPAnswer.failure(error)
            return respond(a.status, a.body, contentType: a.contentType, to: request, context: context)
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/event-stream")
        headers.add(name: "Cache-Control", value: "no-store")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: .ok, headers: headers))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: ": watching \(ns)\n\n")))), promise: nil)
        let dispatcher = api.dispatcher
        // The token stands for the daemon's owner.
        let peer = Peer(uid: getuid(), gid: getgid(), pid: nil, connection: ObjectIdentifier(self), channel: context.channel,
                        backlog: EventBacklog(limit: dispatcher.watchBacklogBytes))
        streaming = true
        _ = dispatcher.hub.watch(ns: ns, tags: [], peer: peer, format: .serverSent)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if streaming { api.dispatcher.hub.closed(connection: ObjectIdentifier(self)) }
        context.fireChannelInactive()
    }

    private func respond(_ status: HTTPResponseStatus, _ text: String, to request: HTTPRequestHead, context: ChannelHandlerContext) {
        respond(status, Array(text.utf8), contentType: "text/plain; charset=utf-8", to: request, context: context)
    }

    private func respond(_ status: HTTPResponseStatus, _ body: [UInt8], contentType: String, to request: HTTPRequestHead,
                         context: ChannelHandlerContext, extra: [(String, String)] = []) {
        var headers = HTTPHeaders(extra)
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(body.count))
        headers.add(name: "Cache-Control", value: "no-store")
        let keepAlive = request.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        if request.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            if !keepAlive { context.close(promise: nil) }
        }
    }
}
