import Testing
@testable import TrailZstd

@Suite("zstd")
struct ZstdTests {
    @Test("one-shot round trip")
    func roundTrip() throws {
        let text = Array(String(repeating: "ants leave trails that fade. ", count: 1000).utf8)
        let packed = try Zstd.compress(text)
        #expect(packed.count < text.count / 10)
        #expect(try Zstd.decompress(packed) == text)
        #expect(try Zstd.decompress(try Zstd.compress([])) == [])
    }

    @Test("frames through one context: the same bytes as one-shot, each at its own size")
    func framesThroughOneContext() throws {
        let c = try ZstdFrameCompressor()
        // A large frame first (the scratch grows), then small ones and an empty one.
        let inputs = [Array(String(repeating: "a trail fades. ", count: 5000).utf8), Array("one note".utf8), [],
                      Array((0..<40_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) })]
        for input in inputs {
            let frame = try c.compress(input)
            #expect(frame == (try Zstd.compress(input)))
            #expect(try Zstd.decompress(frame) == input)
            // Not the compression bound: a pack holds thousands of frames until it is written.
            #expect(frame.capacity < frame.count + 64, "capacity \(frame.capacity) for \(frame.count) bytes")
        }
    }

    @Test("streaming in small chunks, concatenated frames")
    func streaming() throws {
        let c = ZstdCompressor()
        var packed: [UInt8] = []
        var plain: [UInt8] = []
        for i in 0..<5000 {
            let line = Array("{\"n\": \(i), \"body\": \"note \(i)\"}\n".utf8)
            plain += line
            packed += try c.feed(line)
        }
        packed += try c.finish()
        packed += try Zstd.compress(Array("tail".utf8))
        let d = ZstdDecompressor()
        var out: [UInt8] = []
        for chunk in stride(from: 0, to: packed.count, by: 777) {
            out += try d.feed(Array(packed[chunk..<min(chunk + 777, packed.count)]))
        }
        out += try d.finish()
        #expect(out == plain + Array("tail".utf8))
    }

    @Test("truncated and corrupt input is refused")
    func refused() throws {
        let packed = try Zstd.compress(Array(String(repeating: "x y z ", count: 5000).utf8))
        #expect(throws: ZstdError.self) { try Zstd.decompress(Array(packed.dropLast(5))) }
        var corrupt = packed
        corrupt[0] ^= 0xff
        #expect(throws: ZstdError.self) { try Zstd.decompress(corrupt) }
    }
}
