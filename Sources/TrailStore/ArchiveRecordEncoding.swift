import Foundation

extension ArchivedNote {
    /// Appends this record as one line of JSON, the same object `Codable`
    /// reads back, without Foundation's encoder (which costs several times
    /// more per record, and a bulk evaporation writes a million).
    func encodeLine(into out: inout [UInt8]) {
        out.append(contentsOf: #"{"id":"#.utf8)
        Self.string(id, into: &out)
        out.append(contentsOf: #","seq":"#.utf8)
        out.append(contentsOf: String(seq).utf8)
        out.append(contentsOf: #","body":"#.utf8)
        Self.string(body, into: &out)
        out.append(contentsOf: #","tags":"#.utf8)
        Self.strings(tags, into: &out)
        out.append(contentsOf: #","after":"#.utf8)
        Self.strings(after, into: &out)
        out.append(contentsOf: #","weight":"#.utf8)
        Self.number(weight, into: &out)
        out.append(contentsOf: #","archivedAt":"#.utf8)
        Self.number(archivedAt, into: &out)
        out.append(contentsOf: #","deposits":"#.utf8)
        out.append(contentsOf: String(deposits).utf8)
        if let agent {
            out.append(contentsOf: #","agent":"#.utf8)
            Self.string(agent, into: &out)
        }
        if let rank {
            out.append(contentsOf: #","rank":"#.utf8)
            Self.number(rank, into: &out)
        }
        out.append(contentsOf: #","createdAt":"#.utf8)
        out.append(contentsOf: String(createdAt).utf8)
        out.append(contentsOf: #","updatedAt":"#.utf8)
        out.append(contentsOf: String(updatedAt).utf8)
        out.append(contentsOf: #","trailsOut":"#.utf8)
        Self.trails(trailsOut, into: &out)
        out.append(contentsOf: #","trailsIn":"#.utf8)
        Self.trails(trailsIn, into: &out)
        out.append(contentsOf: "}\n".utf8)
    }

    private static func trails(_ trails: [Trail], into out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for (i, t) in trails.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: #"{"id":"#.utf8)
            string(t.id, into: &out)
            out.append(contentsOf: #","weight":"#.utf8)
            number(t.weight, into: &out)
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
    }

    private static func strings(_ values: [String], into out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for (i, v) in values.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            string(v, into: &out)
        }
        out.append(UInt8(ascii: "]"))
    }

    /// A finite number as Swift spells it (shortest round-trip form, valid
    /// JSON); weights and ranks are never infinite or NaN, but 0 stands in.
    private static func number(_ value: Double, into out: inout [UInt8]) {
        out.append(contentsOf: (value.isFinite ? value.description : "0").utf8)
    }

    private static let hex = Array("0123456789abcdef".utf8)

    /// A JSON string: quote, backslash and control characters escaped, the
    /// rest as its UTF-8 bytes.
    private static func string(_ value: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                        hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
