import CZstd

/// A zstd failure, with the library's own words.
public struct ZstdError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ code: Int) { description = String(cString: ZSTD_getErrorName(code)) }
    init(message: String) { description = message }
}

/// One-shot zstd frames over the system libzstd.
public enum Zstd {
    /// Compresses `input` into one zstd frame that records its content size
    /// and a checksum of it, so corruption is caught on decompression.
    public static func compress(_ input: [UInt8], level: Int32 = 3) throws(ZstdError) -> [UInt8] {
        try ZstdFrameCompressor(level: level).compress(input)
    }

    /// The length of the zstd frame at the start of `input`, found by
    /// walking its block headers (nothing is decompressed); nil when the
    /// bytes are not a whole frame (truncated, or no zstd frame).
    public static func frameLength(_ input: UnsafeRawBufferPointer) -> Int? {
        guard let base = input.baseAddress, !input.isEmpty else { return nil }
        let n = ZSTD_findFrameCompressedSize(base, input.count)
        return ZSTD_isError(n) == 0 ? n : nil
    }

    /// Decompresses one or more whole frames. Throws on corrupt or truncated
    /// input, and when the content would exceed `limit` bytes.
    public static func decompress(_ input: [UInt8], limit: Int = 1 << 30) throws(ZstdError) -> [UInt8] {
        let stream = ZstdDecompressor()
        var output = try stream.feed(input)
        guard output.count <= limit else { throw ZstdError(message: "content larger than \(limit) bytes") }
        output += try stream.finish()
        return output
    }
}

/// One-shot frames, one after another, through one compression context: a
/// context is about a megabyte to set up, and a pack of thousands of 32 KiB
/// frames made one each spent more on that than on some frames. Frames are
/// the same bytes as `Zstd.compress` makes. One thread at a time.
public final class ZstdFrameCompressor {
    private let context: OpaquePointer
    /// Where a frame is written before it is copied out at its own size.
    private var scratch: [UInt8] = []

    public init(level: Int32 = 3) throws(ZstdError) {
        guard let context = ZSTD_createCCtx() else { throw ZstdError(message: "out of memory") }
        self.context = context
        ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1)
    }

    deinit { ZSTD_freeCCtx(context) }

    /// `input` as one frame with its content size and checksum, in an array
    /// of the frame's own size (not the compression bound).
    public func compress(_ input: [UInt8]) throws(ZstdError) -> [UInt8] {
        let bound = ZSTD_compressBound(input.count)
        if scratch.count < bound { scratch = [UInt8](repeating: 0, count: bound) }
        let context = self.context
        let written = scratch.withUnsafeMutableBytes { out in
            input.withUnsafeBytes { inp in
                ZSTD_compress2(context, out.baseAddress, bound, inp.baseAddress, inp.count)
            }
        }
        guard ZSTD_isError(written) == 0 else { throw ZstdError(written) }
        return Array(scratch[0..<written])
    }
}

/// Streaming compression: feed chunks, collect compressed bytes, then finish
/// the frame (with a content checksum). Memory stays bounded whatever the
/// total size.
public final class ZstdCompressor {
    private let stream: OpaquePointer
    private var buffer: [UInt8]

    public init(level: Int32 = 3) {
        stream = ZSTD_createCStream()
        ZSTD_CCtx_setParameter(stream, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(stream, ZSTD_c_checksumFlag, 1)
        buffer = [UInt8](repeating: 0, count: ZSTD_CStreamOutSize())
    }

    deinit { ZSTD_freeCStream(stream) }

    /// Compresses `input`; returns whatever compressed bytes are ready.
    public func feed(_ input: [UInt8]) throws(ZstdError) -> [UInt8] {
        var out: [UInt8] = []
        let failure: ZstdError? = input.withUnsafeBytes { raw in
            var inBuf = ZSTD_inBuffer(src: raw.baseAddress, size: raw.count, pos: 0)
            while inBuf.pos < inBuf.size {
                do throws(ZstdError) {
                    try step(&out) { outBuf in ZSTD_compressStream2(stream, &outBuf, &inBuf, ZSTD_e_continue) }
                } catch {
                    return error
                }
            }
            return nil
        }
        if let failure { throw failure }
        return out
    }

    /// Ends the frame; returns the last compressed bytes.
    public func finish() throws(ZstdError) -> [UInt8] {
        var out: [UInt8] = []
        var remaining = 1
        var empty = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
        while remaining != 0 {
            try step(&out) { outBuf in
                let r = ZSTD_compressStream2(stream, &outBuf, &empty, ZSTD_e_end)
                remaining = ZSTD_isError(r) == 0 ? r : 0
                return r
            }
        }
        return out
    }

    private func step(_ out: inout [UInt8], _ body: (inout ZSTD_outBuffer) -> Int) throws(ZstdError) {
        let capacity = buffer.count
        let (code, produced) = buffer.withUnsafeMutableBytes { raw in
            var outBuf = ZSTD_outBuffer(dst: raw.baseAddress, size: capacity, pos: 0)
            let code = body(&outBuf)
            return (code, outBuf.pos)
        }
        guard ZSTD_isError(code) == 0 else { throw ZstdError(code) }
        out += buffer[0..<produced]
    }
}

/// Streaming decompression of one or more concatenated frames. `finish()`
/// throws if the input ended inside a frame (a truncated file).
public final class ZstdDecompressor {
    private let stream: OpaquePointer
    private var buffer: [UInt8]
    /// The library's hint: 0 once a frame is completely decoded.
    private var inFrame = false

    public init() {
        stream = ZSTD_createDStream()
        ZSTD_initDStream(stream)
        buffer = [UInt8](repeating: 0, count: ZSTD_DStreamOutSize())
    }

    deinit { ZSTD_freeDStream(stream) }

    /// Decompresses `input`; returns the bytes it yields.
    public func feed(_ input: [UInt8]) throws(ZstdError) -> [UInt8] {
        var out: [UInt8] = []
        let capacity = buffer.count
        let failure: ZstdError? = input.withUnsafeBytes { raw in
            var inBuf = ZSTD_inBuffer(src: raw.baseAddress, size: raw.count, pos: 0)
            while true {
                let (code, produced) = buffer.withUnsafeMutableBytes { dst in
                    var outBuf = ZSTD_outBuffer(dst: dst.baseAddress, size: capacity, pos: 0)
                    let code = ZSTD_decompressStream(stream, &outBuf, &inBuf)
                    return (code, outBuf.pos)
                }
                guard ZSTD_isError(code) == 0 else { return ZstdError(code) }
                out += buffer[0..<produced]
                inFrame = code != 0
                // Done when all input is consumed and the output buffer was not filled.
                if inBuf.pos == inBuf.size && produced < capacity { return nil }
            }
        }
        if let failure { throw failure }
        return out
    }

    /// Checks that the input ended on a frame boundary.
    public func finish() throws(ZstdError) -> [UInt8] {
        guard !inFrame else { throw ZstdError(message: "the compressed data is truncated") }
        return []
    }
}
