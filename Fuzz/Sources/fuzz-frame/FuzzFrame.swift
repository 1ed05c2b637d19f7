import FuzzChecks
import NIOCore
import NIOEmbedded
import TrailProtocol

/// The bytes of a connection through `LineFrameDecoder`, as the daemon's
/// pipeline reads them. The first byte sets the frame limit (16 to 1036
/// bytes, so the fuzzer reaches "too large" with small inputs), the second
/// the size of each read; the rest is the stream. The frames must be the
/// ones a plain split of the stream gives (`expectedFrames`), and each line
/// goes on through the JSON reader and call decoding (`RequestChecks`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrame(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let maxBytes = 16 + Int(data[0]) * 4
    let readSize = 1 + Int(data[1]) % 97
    let stream = UnsafeBufferPointer(start: data + 2, count: size - 2)

    let channel = EmbeddedChannel(handler: ByteToMessageHandler(LineFrameDecoder(maxBytes: maxBytes)))
    var frames: [LineFrame] = []
    do {
        var offset = 0
        while offset < stream.count {
            let end = min(stream.count, offset + readSize)
            try channel.writeInbound(channel.allocator.buffer(bytes: UnsafeBufferPointer(rebasing: stream[offset..<end])))
            offset = end
            while let frame = try channel.readInbound(as: LineFrame.self) { frames.append(frame) }
        }
        _ = try channel.finish()
        while let frame = try channel.readInbound(as: LineFrame.self) { frames.append(frame) }
    } catch {
        fail("the frame decoder threw \(error)")
    }
    let expected = expectedFrames(Array(stream), maxBytes: maxBytes)
    require(frames == expected, "frames \(describe(frames)) but a plain split gives \(describe(expected))")
    for case let .line(line) in frames {
        // The codec skips blank lines; the rest are requests.
        if line.readableBytesView.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) { continue }
        RequestChecks.line(line.readableBytesView)
    }
    return 0
}

/// The contract's framing, written plainly: lines end at `\n` (a `\r` before
/// it is dropped); a line longer than `maxBytes` is `.tooLarge` and ends the
/// stream; a last line without `\n` is still a line (its `\r` kept).
func expectedFrames(_ stream: [UInt8], maxBytes: Int) -> [LineFrame] {
    var frames: [LineFrame] = []
    var start = 0
    for (i, b) in stream.enumerated() where b == UInt8(ascii: "\n") {
        var line = Array(stream[start..<i])
        guard line.count <= maxBytes else { return frames + [.tooLarge] }
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        frames.append(.line(ByteBuffer(bytes: line)))
        start = i + 1
    }
    let rest = stream.count - start
    if rest > maxBytes { return frames + [.tooLarge] }
    if rest > 0 { frames.append(.line(ByteBuffer(bytes: stream[start...]))) }
    return frames
}

func describe(_ frames: [LineFrame]) -> String {
    frames.map { frame in
        switch frame {
        case .tooLarge: "tooLarge"
        case let .line(b): "line(\(b.readableBytes))"
        }
    }.joined(separator: ", ")
}
