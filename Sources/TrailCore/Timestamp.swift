import Foundation

/// RFC 3339 UTC times with milliseconds, as every time on the wire is written.
public enum Timestamp {
    /// Milliseconds since 1970 of a time in seconds.
    @inlinable
    public static func millis(_ seconds: Double) -> Int64 { Int64((seconds * 1000).rounded(.down)) }

    /// `2026-11-22T23:59:59.123Z`. Costs a `gmtime_r` and the string: the
    /// digits go straight into the string's storage (every note of every
    /// answer carries two of these; interpolating padded parts cost about
    /// 1 µs each).
    public static func rfc3339(millis: Int64) -> String {
        // Floor division without `millis - 999`, which overflowed for the
        // earliest Int64 (a damaged archive record's time; found with fuzz-pack).
        let (q, r) = millis.quotientAndRemainder(dividingBy: 1000)
        var seconds = time_t(r < 0 ? q - 1 : q)
        let ms = Int32(r < 0 ? r + 1000 : r)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let year = parts.tm_year + 1900
        guard (0...9999).contains(year) else { return paddedRFC3339(parts, ms: ms) }
        return String(unsafeUninitializedCapacity: 24) { out in
            func put(_ value: Int32, _ width: Int, at start: Int) {
                var v = value
                for i in stride(from: start + width - 1, through: start, by: -1) {
                    out[i] = UInt8(truncatingIfNeeded: 48 + v % 10)
                    v /= 10
                }
            }
            put(year, 4, at: 0)
            out[4] = UInt8(ascii: "-")
            put(parts.tm_mon + 1, 2, at: 5)
            out[7] = UInt8(ascii: "-")
            put(parts.tm_mday, 2, at: 8)
            out[10] = UInt8(ascii: "T")
            put(parts.tm_hour, 2, at: 11)
            out[13] = UInt8(ascii: ":")
            put(parts.tm_min, 2, at: 14)
            out[16] = UInt8(ascii: ":")
            put(parts.tm_sec, 2, at: 17)
            out[19] = UInt8(ascii: ".")
            put(ms, 3, at: 20)
            out[23] = UInt8(ascii: "Z")
            return 24
        }
    }

    /// The same for a year outside 0...9999 (more digits, or a sign).
    private static func paddedRFC3339(_ parts: tm, ms: Int32) -> String {
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(ms, 3))Z"
    }
}

extension Timestamp {
    /// Milliseconds since 1970 of `YYYY-MM-DDTHH:MM:SS[.fff]Z` (UTC), else nil.
    public static func parse(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        func num(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= b.count else { return nil }
            var v = 0
            for c in b[from..<from + count] {
                guard c >= 48 && c <= 57 else { return nil }
                v = v * 10 + Int(c - 48)
            }
            return v
        }
        guard b.count >= 20, b[4] == 45, b[7] == 45, b[10] == 84, b[13] == 58, b[16] == 58, b.last == 90,
              let y = num(0, 4), let mo = num(5, 2), let d = num(8, 2), let h = num(11, 2), let mi = num(14, 2),
              let s = num(17, 2), (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 61
        else { return nil }
        var ms = 0
        if b.count > 20 {
            guard b[19] == 46, b.count >= 22, b.count <= 30, let frac = num(20, b.count - 21) else { return nil }
            let digits = b.count - 21
            ms = digits >= 3 ? frac / Int(pow(10.0, Double(digits - 3))) : frac * Int(pow(10.0, Double(3 - digits)))
        } else if b.count != 20 { return nil }
        var parts = tm()
        parts.tm_year = Int32(y - 1900)
        parts.tm_mon = Int32(mo - 1)
        parts.tm_mday = Int32(d)
        parts.tm_hour = Int32(h)
        parts.tm_min = Int32(mi)
        parts.tm_sec = Int32(s)
        return Int64(timegm(&parts)) * 1000 + Int64(ms)
    }
}

/// A source of "now" in seconds since 1970, so tests can move time.
public protocol WallClock: Sendable {
    func now() -> Double
}

/// The system's real-time clock.
public struct SystemClock: WallClock {
    public init() {}
    public func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
