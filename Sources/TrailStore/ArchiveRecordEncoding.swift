import TrailCore

extension ArchivedNote {
    /// Appends this record as one line of JSON, the same object `Codable`
    /// reads back, without Foundation's encoder (which costs several times
    /// more per record, and a bulk evaporation writes a million).
    public func encodeLine(into out: inout JSONText) {
        out.append(#"{"id":"#)
        out.string(id)
        out.append(#","seq":"#)
        out.integer(seq)
        out.append(#","body":"#)
        out.string(body)
        out.append(#","tags":"#)
        Self.strings(tags, into: &out)
        out.append(#","after":"#)
        Self.strings(after, into: &out)
        out.append(#","weight":"#)
        Self.number(weight, into: &out)
        out.append(#","archivedAt":"#)
        Self.number(archivedAt, into: &out)
        out.append(#","deposits":"#)
        out.integer(deposits)
        if let agent {
            out.append(#","agent":"#)
            out.string(agent)
        }
        if let rank {
            out.append(#","rank":"#)
            Self.number(rank, into: &out)
        }
        out.append(#","createdAt":"#)
        out.integer(createdAt)
        out.append(#","updatedAt":"#)
        out.integer(updatedAt)
        out.append(#","trailsOut":"#)
        Self.trails(trailsOut, into: &out)
        out.append(#","trailsIn":"#)
        Self.trails(trailsIn, into: &out)
        out.append("}\n")
    }

    private static func trails(_ trails: [Trail], into out: inout JSONText) {
        out.append(byte: UInt8(ascii: "["))
        for (i, t) in trails.enumerated() {
            if i > 0 { out.append(byte: UInt8(ascii: ",")) }
            out.append(#"{"id":"#)
            out.string(t.id)
            out.append(#","weight":"#)
            number(t.weight, into: &out)
            out.append(byte: UInt8(ascii: "}"))
        }
        out.append(byte: UInt8(ascii: "]"))
    }

    private static func strings(_ values: [String], into out: inout JSONText) {
        out.append(byte: UInt8(ascii: "["))
        for (i, v) in values.enumerated() {
            if i > 0 { out.append(byte: UInt8(ascii: ",")) }
            out.string(v)
        }
        out.append(byte: UInt8(ascii: "]"))
    }

    /// A weight or rank: never infinite or NaN, but 0 stands in (a record's
    /// numbers are not optional, and null would not read back).
    private static func number(_ value: Double, into out: inout JSONText) {
        out.number(value.isFinite ? value : 0)
    }
}
