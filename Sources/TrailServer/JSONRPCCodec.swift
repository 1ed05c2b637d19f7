import NIOCore
import TrailProtocol

/// What the codec hands the dispatcher: a parsed JSON text, or why a line
/// could not be one.
enum Incoming: Sendable {
    case json(JSONValue)
    case unreadable(ProtocolError)
}

/// Lines in, JSON values out; JSON values in, `\n`-terminated lines out.
final class JSONRPCCodec: ChannelDuplexHandler, Sendable {
    typealias InboundIn = LineFrame
    typealias InboundOut = Incoming
    typealias OutboundIn = JSONValue
    typealias OutboundOut = ByteBuffer

    let maxFrameBytes: Int
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
        var buffer = context.channel.allocator.buffer(capacity: 512)
        JSONWriter.write(unwrapOutboundIn(data), into: &buffer)
        buffer.writeInteger(UInt8(ascii: "\n"))
        context.write(wrapOutboundOut(buffer), promise: promise)
    }
}
