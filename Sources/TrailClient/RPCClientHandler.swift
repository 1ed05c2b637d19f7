import NIOCore
import TrailProtocol

/// Where a watch's events go.
typealias EventSink = AsyncThrowingStream<TrailWatchItem, any Error>.Continuation

/// A request on its way to the daemon, as the connection hands it to the pipeline.
struct OutgoingCall: Sendable {
    var method: String
    var params: JSONObject?
    /// Completed with the `result`, or failed with a `TrailClientError`.
    /// Nil sends a notification (no id, no answer).
    var promise: EventLoopPromise<JSONValue>?
    /// For `trail.watch`: the stream the subscription's events are fed into,
    /// registered as soon as the answer names the subscription so that no
    /// event sent right after it is lost.
    var events: EventSink?
}

/// The client's end of the protocol, after `LineFrameDecoder`: numbers the
/// outgoing requests, matches answers to them by id (answers may come in any
/// order; see "Pipelining" in docs/protocol.md), and routes `trail.event`
/// and `trail.gap` notifications to their subscription's stream.
///
/// When the connection ends, every unanswered call fails with
/// `connectionClosed` and every event stream ends; when the daemon sends
/// something that is not the protocol, they fail with `protocolViolation`
/// and the connection is closed, since nothing after it can be trusted.
final class RPCClientHandler: ChannelDuplexHandler {
    typealias InboundIn = LineFrame
    typealias OutboundIn = OutgoingCall
    typealias OutboundOut = ByteBuffer

    private struct Pending {
        var promise: EventLoopPromise<JSONValue>
        var events: EventSink?
    }

    private var pending: [Int: Pending] = [:]
    private var subscriptions: [String: EventSink] = [:]
    private var nextID = 1
    /// Set once the connection is over: what later calls fail with.
    private var ended: TrailClientError?

    // MARK: outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let call = unwrapOutboundIn(data)
        if let ended {
            call.promise?.fail(ended)
            call.events?.finish(throwing: ended)
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        var message: JSONObject = ["jsonrpc": "2.0"]
        var id: Int?
        if let callPromise = call.promise {
            let n = nextID
            nextID += 1
            id = n
            message["id"] = .int(n)
            pending[n] = Pending(promise: callPromise, events: call.events)
        }
        message["method"] = .string(call.method)
        if let params = call.params, params.count > 0 { message["params"] = .object(params) }
        var buffer = context.channel.allocator.buffer(capacity: 256)
        JSONWriter.write(.object(message), into: &buffer)
        buffer.writeInteger(UInt8(ascii: "\n"))

        let written = context.eventLoop.makePromise(of: Void.self)
        if let id {
            written.futureResult.assumeIsolated().whenFailure { _ in
                self.complete(id: id, with: .failure(.connectionClosed))
            }
        }
        if let promise { written.futureResult.cascade(to: promise) }
        context.write(wrapOutboundOut(buffer), promise: written)
    }

    // MARK: inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .tooLarge:
            violation(context: context, "an answer line longer than the client's limit")
        case let .line(line):
            if line.readableBytesView.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) { return }
            let message: JSONValue
            do {
                message = try JSONReader.parse(line)
            } catch {
                violation(context: context, "a line that is not JSON (\(error))")
                return
            }
            receive(message, context: context)
        }
    }

    private func receive(_ message: JSONValue, context: ChannelHandlerContext) {
        guard case let .object(o) = message else {
            // Batches are never sent by this client, so no array answer is expected.
            violation(context: context, "an answer that is not a JSON object")
            return
        }
        if o["id"] == nil, let method = o["method"]?.string {
            if method == TrailMethod.event || method == TrailMethod.gap, let params = o["params"]?.object {
                deliver(params, gap: method == TrailMethod.gap, context: context)
            }
            return
        }
        let id: Int
        switch o["id"] {
        case let .int(n)?: id = n
        case let .double(d)? where d == d.rounded() && abs(d) < 9.0e15: id = Int(d)
        case .null?:
            // An error the daemon could not tie to a request (e.g. a frame
            // too large): it concerns whatever is in flight.
            let error = o["error"].map(TrailClientError.init(errorMember:)) ?? .protocolViolation("an answer with id null")
            failAll(error)
            context.close(promise: nil)
            return
        default:
            violation(context: context, "an answer with an id this client never uses")
            return
        }
        guard let waiting = pending[id] else {
            violation(context: context, "an answer to request \(id), which is not waiting for one")
            return
        }
        if let error = o["error"] {
            complete(id: id, with: .failure(TrailClientError(errorMember: error)))
        } else if let result = o["result"] {
            if let sink = waiting.events {
                guard let sub = result["subscription"]?.string else {
                    complete(id: id, with: .failure(.protocolViolation("trail.watch answered without a subscription")))
                    return
                }
                register(sub, sink: sink, context: context)
            }
            complete(id: id, with: .success(result))
        } else {
            complete(id: id, with: .failure(.protocolViolation("an answer with neither result nor error")))
        }
    }

    private func complete(id: Int, with result: Result<JSONValue, TrailClientError>) {
        guard let waiting = pending.removeValue(forKey: id) else { return }
        switch result {
        case let .success(value):
            waiting.promise.succeed(value)
        case let .failure(error):
            waiting.events?.finish(throwing: error)
            waiting.promise.fail(error)
        }
    }

    // MARK: events

    private func register(_ subscription: String, sink: EventSink, context: ChannelHandlerContext) {
        subscriptions[subscription] = sink
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let channel = context.channel
        sink.onTermination = { termination in
            // The consumer stopped listening: tell the daemon. (A stream we
            // finish ourselves ends with `.finished`, and needs nothing.)
            guard case .cancelled = termination else { return }
            channel.eventLoop.execute {
                handler.value.subscriptionCancelled(subscription, channel: channel)
            }
        }
    }

    private func subscriptionCancelled(_ subscription: String, channel: any Channel) {
        guard subscriptions.removeValue(forKey: subscription) != nil, ended == nil else { return }
        let unwatch = OutgoingCall(method: "trail.unwatch", params: ["subscription": .string(subscription)], promise: nil)
        channel.writeAndFlush(unwatch, promise: nil)
    }

    private func deliver(_ params: JSONObject, gap: Bool, context: ChannelHandlerContext) {
        guard let sub = params["subscription"]?.string, let sink = subscriptions[sub] else { return }
        do {
            sink.yield(gap ? .missed(try TrailGap(params: params)) : .event(try TrailEvent(params: params)))
        } catch {
            violation(context: context, "\(gap ? "a gap" : "an event") of the wrong shape: \(error)")
        }
    }

    // MARK: endings

    private func failAll(_ error: TrailClientError) {
        if ended == nil { ended = error }
        let waiting = pending
        pending.removeAll()
        for (_, p) in waiting {
            p.events?.finish(throwing: error)
            p.promise.fail(error)
        }
        let subs = subscriptions
        subscriptions.removeAll()
        for (_, sink) in subs { sink.finish(throwing: error) }
    }

    private func violation(context: ChannelHandlerContext, _ what: String) {
        failAll(.protocolViolation("traild sent \(what)"))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(.connectionClosed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(.connectionClosed)
        context.close(promise: nil)
    }
}
