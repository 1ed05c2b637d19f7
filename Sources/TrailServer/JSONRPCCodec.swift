import NIOCore
import TrailCore
import TrailProtocol

/// What the codec hands the dispatcher: a parsed JSON text, or why a line
/// could not be one.
enum Incoming: Sendable {
    case json(JSONValue)
    case unreadable(ProtocolError)
}

/// What the codec writes as one line.
enum Outgoing: Sendable {
    /// A response or a notification.
    case json(JSONValue)
    /// The success response to request `id`, written by `JSONText.writeSuccess`.
    case success(id: JSONValue, ReadResult)

    /// The same response as a JSON value (to go into a batch's array).
    var json: JSONValue {
        switch self {
        case let .json(value): value
        case let .success(id, result): RPCResponse.success(id: id, result: result.json)
        }
    }
}

/// Lines in, JSON values out; responses in, `\n`-terminated lines out.
/// One per connection, used on its event loop only.
final class JSONRPCCodec: ChannelDuplexHandler {
    typealias InboundIn = LineFrame
    typealias InboundOut = Incoming
    typealias OutboundIn = Outgoing
    typealias OutboundOut = ByteBuffer

    let maxFrameBytes: Int
    /// The text's array, kept between responses so that its capacity is reused.
    private var scratch: [UInt8] = []
    /// Capacity beyond which `scratch` is not kept (a large export page).
    private static let maxScratch = 1 << 20

    init(maxFrameBytes: Int) { self.maxFrameBytes = maxFrameBytes }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .tooLarge:
            context.fireChannelRead(wrapInboundOut(.unreadable(.frameTooLarge(limit: maxFrameBytes))))
        case let .line(line):
            // Blank lines between requests are tolerated, as most line protocols do.
            if line.readableBytesView.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) { return }
            do {
                context.fireChannelRead(wrapInboundOut(.json(try JSONReader.parse(line))))
            } catch {
                context.fireChannelRead(wrapInboundOut(.unreadable(.parseError(error.description))))
            }
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var text = JSONText(reusing: scratch)
        scratch = []
        switch unwrapOutboundIn(data) {
        case let .json(value): text.write(value)
        case let .success(id, result): text.writeSuccess(id: id, result: result)
        }
        text.append(byte: UInt8(ascii: "\n"))
        let buffer = context.channel.allocator.buffer(bytes: text.bytes)
        if text.bytes.capacity <= Self.maxScratch { scratch = text.bytes }
        context.write(wrapOutboundOut(buffer), promise: promise)
    }
}
