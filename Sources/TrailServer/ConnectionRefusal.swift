import NIOCore
import TrailCore
import TrailProtocol

/// The whole pipeline of a connection beyond `max_connections`: says why in
/// one line (`overloaded`, with the limit, `id` null), then closes. The
/// daemon's other connections are not touched.
final class ConnectionRefusal: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let limit: Int

    init(limit: Int) { self.limit = limit }

    func channelActive(context: ChannelHandlerContext) {
        let error = RPCError(code: TrailErrorCode.overloaded.rawValue,
                             message: "traild serves at most \(limit) connections at once and all are open; close one or retry after a short pause.",
                             data: ["reason": .string(TrailErrorCode.overloaded.name), "limit": .int(limit)])
        var buffer = context.channel.allocator.buffer(capacity: 256)
        JSONWriter.write(RPCResponse.failure(id: .null, error: error), into: &buffer)
        buffer.writeInteger(UInt8(ascii: "\n"))
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in channel.close(promise: nil) }
    }

    /// Whatever the client sends is not read.
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
