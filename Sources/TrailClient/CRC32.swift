/// CRC-32 (IEEE 802.3, the one of zip and PNG), for the export file's end
/// line: zstd frames carry no checksum unless asked to, so without it a
/// flipped bit inside a weight or a date would go unnoticed.
public struct CRC32: Sendable {
    private static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    private var state: UInt32 = 0xFFFF_FFFF

    public init() {}

    /// Adds `bytes`. Costs one table lookup per byte.
    public mutating func update(_ bytes: some Sequence<UInt8>) {
        var c = state
        for b in bytes { c = Self.table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        state = c
    }

    public var value: UInt32 { state ^ 0xFFFF_FFFF }

    /// Eight lowercase hex digits.
    public var hex: String {
        let s = String(value, radix: 16)
        return String(repeating: "0", count: 8 - s.count) + s
    }
}
