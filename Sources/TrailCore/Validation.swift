/// Checks of names, tags and numbers, each throwing an `invalidParams` or
/// `invalidNamespace` whose message says what to send instead.
public enum Validate {
    /// `^[a-z0-9][a-z0-9._-]{0,63}$`
    public static func namespace(_ ns: String) throws(TrailError) -> String {
        guard matches(ns, maxLength: 64, extra: [UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-")]) else {
            throw .invalidNamespace(ns)
        }
        return ns
    }

    /// `^[a-z0-9][a-z0-9._:/-]{0,63}$`
    public static func tag(_ tag: String, field: String) throws(TrailError) -> String {
        guard matches(tag, maxLength: Limits.maxTagBytes,
                      extra: [UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "/"), UInt8(ascii: "-")]) else {
            throw .invalidParams(field: field, message: "Tag \(tag.debugDescription) is not valid; use 1 to 64 of a-z 0-9 . _ : / - starting with a letter or digit.")
        }
        return tag
    }

    /// At most `Limits.maxTags` valid tags, returned sorted without duplicates.
    public static func tags(_ tags: [String], field: String) throws(TrailError) -> [String] {
        var set = Set<String>()
        for t in tags { set.insert(try tag(t, field: field)) }
        guard set.count <= Limits.maxTags else {
            throw .invalidParams(field: field, message: "\(field) has \(set.count) tags but a note takes at most \(Limits.maxTags); keep the ones others will search by.")
        }
        return set.sorted()
    }

    /// Printable text of at most `maxBytes` UTF-8 bytes.
    public static func printable(_ text: String, field: String, maxBytes: Int) throws(TrailError) -> String {
        guard !text.isEmpty else {
            throw .invalidParams(field: field, message: "\(field) must not be empty; leave it out instead.")
        }
        guard text.utf8.count <= maxBytes else {
            throw .invalidParams(field: field, message: "\(field) is \(text.utf8.count) bytes; keep it to at most \(maxBytes).")
        }
        for scalar in text.unicodeScalars where scalar.properties.generalCategory == .control {
            _ = scalar
            throw .invalidParams(field: field, message: "\(field) contains a control character; send printable text only.")
        }
        return text
    }

    /// A retraction's reason: some words, at most `Limits.maxReasonBytes`
    /// bytes, without U+0000 (which no database's text holds: PostgreSQL
    /// refuses it). Newlines and tabs are kept.
    public static func reason(_ text: String, field: String) throws(TrailError) -> String {
        guard !text.allSatisfy(\.isWhitespace) else {
            throw .invalidParams(field: field, message: "\(field) is required: say in a sentence why this note is retracted.")
        }
        guard text.utf8.count <= Limits.maxReasonBytes else {
            throw .invalidParams(field: field, message: "\(field) is \(text.utf8.count) bytes; keep it to at most \(Limits.maxReasonBytes).")
        }
        guard !text.unicodeScalars.contains("\u{0}") else {
            throw .invalidParams(field: field, message: "\(field) contains U+0000; send the reason as text without NUL characters.")
        }
        return text
    }

    /// A finite number with `|x| <= Limits.maxAbsNumber`.
    public static func weight(_ x: Double, field: String) throws(TrailError) -> Double {
        guard x.isFinite, abs(x) <= Limits.maxAbsNumber else {
            throw .invalidParams(field: field, message: "\(field) must be a finite number between -\(Int(Limits.maxAbsNumber)) and \(Int(Limits.maxAbsNumber)).")
        }
        return x
    }

    /// A weight that is also greater than 0.
    public static func strength(_ x: Double, field: String) throws(TrailError) -> Double {
        let x = try weight(x, field: field)
        guard x > 0 else {
            throw .invalidParams(field: field, message: "\(field) must be greater than 0; to weaken a note use trail.reinforce with a negative delta.")
        }
        return x
    }

    private static func matches(_ s: String, maxLength: Int, extra: [UInt8]) -> Bool {
        let bytes = s.utf8
        guard let first = bytes.first, bytes.count <= maxLength, isLowerAlnum(first) else { return false }
        for b in bytes.dropFirst() where !(isLowerAlnum(b) || extra.contains(b)) { return false }
        return true
    }

    private static func isLowerAlnum(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
    }
}
