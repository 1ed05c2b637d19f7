import Foundation

/// RFC 3339 UTC times with milliseconds, as every time on the wire is written.
public enum Timestamp {
    /// Milliseconds since 1970 of a time in seconds.
    @inlinable
    public static func millis(_ seconds: Double) -> Int64 { Int64((seconds * 1000).rounded(.down)) }

    /// `2026-11-22T23:59:59.123Z`. Costs a `gmtime_r` and no allocation but the string.
    public static func rfc3339(millis: Int64) -> String {
        var seconds = time_t(millis >= 0 ? millis / 1000 : (millis - 999) / 1000)
        let ms = Int(millis - Int64(seconds) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(ms), 3))Z"
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
