import Foundation
import TrailCore

/// How values read on a terminal: weights to 3 places, ids shortened to 12
/// digits (still a valid prefix for every command), bodies to one line.
enum Format {
    /// Hex digits shown of an id in lists.
    static let idDigits = 12

    static func weight(_ w: Double) -> String { String(format: "%.3f", w) }

    /// `+1.000`, `-0.500`.
    static func signed(_ w: Double) -> String { (w >= 0 ? "+" : "") + weight(w) }

    static func weight(_ w: Double?) -> String { w.map { weight($0) } ?? "-" }

    static func id(_ id: NoteID) -> String { String(id.hex.prefix(idDigits)) }

    static func id(_ hex: String) -> String { String(hex.prefix(idDigits)) }

    static func time(_ millis: Int64) -> String { Timestamp.rfc3339(millis: millis) }

    /// The first line of `body`, with control characters shown as spaces,
    /// cut to `max` characters; `…` marks anything left out.
    static func excerpt(_ body: String, max: Int) -> String {
        let lines = body.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        var first = String(lines.first ?? "")
        first = String(first.map { $0.unicodeScalars.allSatisfy { $0.properties.generalCategory != .control } ? $0 : " " })
        let cut = first.count > max
        let more = lines.count > 1 && lines.dropFirst().contains { !$0.allSatisfy(\.isWhitespace) }
        if cut { first = String(first.prefix(Swift.max(1, max - 1))) }
        return cut || more ? first + "…" : first
    }

    /// `4.6s`, `12m 5s`, `3h 20m`, `7d`, `2d 4h`.
    static func duration(_ seconds: Double) -> String {
        if seconds < 60 {
            return seconds == seconds.rounded() ? "\(Int(seconds))s" : String(format: "%.1fs", seconds)
        }
        let s = Int(seconds.rounded())
        let units: [(Int, String)] = [(86400 * 7, "w"), (86400, "d"), (3600, "h"), (60, "m"), (1, "s")]
        var parts: [String] = []
        var left = s
        for (size, name) in units where left >= size && parts.count < 2 {
            // Weeks only for exact weeks, so 10 days reads 10d rather than 1w 3d.
            if name == "w" && left % size != 0 { continue }
            parts.append("\(left / size)\(name)")
            left %= size
            if left == 0 { break }
        }
        return parts.joined(separator: " ")
    }

    /// `812 B`, `281.5 KiB`, `3.2 MiB`.
    static func bytes(_ n: Int) -> String {
        if n < 1024 { return "\(n) B" }
        let units = ["KiB", "MiB", "GiB", "TiB"]
        var v = Double(n) / 1024
        var i = 0
        while v >= 1024, i < units.count - 1 {
            v /= 1024
            i += 1
        }
        return String(format: "%.1f %@", v, units[i])
    }

    /// Tags as `food,north`, or `-`.
    static func tags(_ tags: [String]) -> String { tags.isEmpty ? "-" : tags.joined(separator: ",") }
}
