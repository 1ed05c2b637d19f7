/// What a note's body asserts that a paraphrase must keep word for word
/// (contract §8, "a correction is never merged"): its numbers with their
/// units, its identifiers and quoted strings, whether it negates, and
/// whether it says that something works or fails.
///
/// A sentence-embedding model puts "fix-3 resolved it" and "fix-5 resolved
/// it" at 0.99, and "X works on NFS" beside "X does not work on NFS": close
/// in meaning, opposite in fact. Two bodies **disagree** when
///
/// - their sets of decisive tokens differ (one has a token the other lacks), or
/// - they say the opposite: when both say that something works or fails,
///   one says it works and the other that it fails, a negation turning
///   either round ("works" against "does not work" or "fails"; "works" and
///   "never fails" agree); when one of them or neither says so, one negates
///   and the other does not ("run it with the service up" against "never
///   run it with the service up"; "NFS gave SQLITE_BUSY" and "fails on NFS
///   with SQLITE_BUSY" agree).
///
/// The tokens, compared in lower case:
///
/// - **numbers** with their unit: a word that starts with a digit; a unit
///   written after it, joined or as the next word, is part of it and
///   written one way (`30s`, `30 s`, `30 sec`, `30 seconds` are all
///   `30 s`); thousands separators are dropped (`1,000` is `1000`); a
///   version (`1.2.3`, `v2`) is an identifier and is compared as written;
/// - **identifiers**: words with a digit, an inner dot, an underscore, a
///   slash, `=`, `$`, `@` or `://` (paths, keys, environment variables,
///   URLs, versions, file names), flags (`-j4`, `--force`), words with an
///   inner dash (`orders-api`, `us-east-1`, and `short-lived` too: a dashed
///   name cannot be told from a compound word), names in camel case
///   (`BaseStore`, `PostgreSQL`) and words in capitals of two letters or
///   more (`NFS`, `RUST_LOG`); abbreviations of single letters with dots
///   (`e.g.`) are plain words;
/// - **quoted strings**: what stands between double quotes, back-ticks,
///   curly quotes, or single quotes that open after a space and close
///   before one; a quoted identifier is that identifier (`` `--force` `` is
///   `--force`), a quoted plain word or phrase is a token of its own;
/// - **negation**: `not`, `no`, `never`, `without`, `cannot`, `none`,
///   `nothing`, `nobody`, `neither`, `nor` and every word ending in `n't`;
/// - **works or fails**: the words of working (`work`, `works`, `worked`,
///   `passes`, `passed`, `succeeds`, `fixed`, `resolve`, `resolved`, `solved`,
///   `help`, `helps`, `green`...) and of failing (`fails`, `failed`,
///   `broken`, `breaks`, `crashes`, `red`...); words that are mostly
///   something else (`fix`, `working`, `pass`, `break`) are not among them.
///
/// What it does not see: numbers written as words (`three`), names with
/// only a leading capital (`Redis` against `Memcached`), and a change of
/// meaning without a changed token ("before" against "after"). Such a pair
/// is still merged by a `merge_similar` close enough; an agent that
/// corrects names the note in `after`.
public struct DecisiveTokens: Hashable, Sendable {
    /// Numbers with units, identifiers and quoted strings, in lower case.
    public let tokens: Set<String>
    /// Whether the body negates.
    public let negates: Bool
    /// Whether the body says that something works, fails, or neither (or both).
    public let outcome: Outcome?

    /// What the body says of the thing it names, a negation counted: works
    /// ("works", "never fails"), fails ("fails", "does not work"), or nil
    /// when it has no word of working or failing (or both).
    public var stance: Outcome? {
        outcome.map { negates ? ($0 == .works ? .fails : .works) : $0 }
    }

    /// Whether the two say the opposite (see the type's doc).
    func opposes(_ other: DecisiveTokens) -> Bool {
        if let a = stance, let b = other.stance { return a != b }
        return negates != other.negates
    }

    /// Whether a body says that something works or that it fails.
    public enum Outcome: Hashable, Sendable {
        case works, fails
    }

    /// The decisive tokens of `body`.
    public init(_ body: String) {
        var scanner = Scanner()
        scanner.scan(body)
        tokens = scanner.tokens
        negates = scanner.negates
        switch (scanner.works, scanner.fails) {
        case (true, false): outcome = .works
        case (false, true): outcome = .fails
        default: outcome = nil
        }
    }

    /// Whether two bodies disagree on a decisive token (see the type's doc).
    public func disagrees(with other: DecisiveTokens) -> Bool {
        !differences(from: other).isEmpty
    }

    /// What differs, for a message: each token that one side has and the
    /// other lacks (sorted), then `not` when they say the opposite.
    public func differences(from other: DecisiveTokens) -> [String] {
        var out = tokens.symmetricDifference(other.tokens).sorted()
        if opposes(other) { out.append("not") }
        return out
    }

    /// Whether bodies `a` and `b` disagree on a decisive token.
    public static func disagree(_ a: String, _ b: String) -> Bool {
        DecisiveTokens(a).disagrees(with: DecisiveTokens(b))
    }
}

// MARK: - the scan

extension DecisiveTokens {
    /// Negations, as whole words (plus every word ending in n't).
    static let negations: Set<String> = ["not", "no", "never", "without", "cannot", "none", "nothing", "nobody",
                                         "neither", "nor", "nowhere"]
    /// Words that say something works.
    static let worksWords: Set<String> = [
        "work", "works", "worked", "passes", "passed", "succeed", "succeeds", "succeeded", "success", "successful",
        "successfully", "fixed", "resolve", "resolves", "resolved", "solve", "solves", "solved", "help", "helps",
        "helped", "green",
    ]
    /// Words that say something fails.
    static let failsWords: Set<String> = [
        "fail", "fails", "failed", "failing", "failure", "failures", "breaks", "broke", "broken",
        "crash", "crashes", "crashed", "crashing", "red",
    ]
    /// Units, by each way of writing them, and how they are written in a token.
    static let units: [String: String] = {
        var u: [String: String] = [:]
        let table: [(String, [String])] = [
            ("ns", ["ns", "nanosecond", "nanoseconds"]), ("us", ["us", "µs", "microsecond", "microseconds"]),
            ("ms", ["ms", "msec", "millisecond", "milliseconds"]),
            ("s", ["s", "sec", "secs", "second", "seconds"]), ("min", ["m", "min", "mins", "minute", "minutes"]),
            ("h", ["h", "hr", "hrs", "hour", "hours"]), ("d", ["d", "day", "days"]),
            ("w", ["w", "wk", "week", "weeks"]),
            ("b", ["b", "byte", "bytes"]), ("kb", ["kb", "kilobyte", "kilobytes"]), ("kib", ["kib"]),
            ("mb", ["mb", "megabyte", "megabytes"]), ("mib", ["mib"]), ("gb", ["gb", "gigabyte", "gigabytes"]),
            ("gib", ["gib"]), ("tb", ["tb", "terabyte", "terabytes"]), ("tib", ["tib"]),
            ("%", ["%", "percent", "pct"]), ("x", ["x"]), ("hz", ["hz"]), ("khz", ["khz"]), ("mhz", ["mhz"]),
            ("ghz", ["ghz"]), ("px", ["px"]), ("k", ["k"]),
        ]
        for (canonical, spellings) in table { for s in spellings { u[s] = canonical } }
        return u
    }()

    /// Walks a body once, collecting what `DecisiveTokens` keeps.
    struct Scanner {
        var tokens: Set<String> = []
        var negates = false
        var works = false
        var fails = false

        mutating func scan(_ body: String) {
            let words = quotedTaken(from: body).split(whereSeparator: { $0.isWhitespace }).map(String.init)
            var i = 0
            while i < words.count {
                let word = Self.trimmed(words[i])
                i += 1
                guard !word.isEmpty else { continue }
                let lower = word.lowercased()
                if DecisiveTokens.negations.contains(lower) || lower.hasSuffix("n't") || lower.hasSuffix("n’t") {
                    negates = true
                    continue
                }
                if DecisiveTokens.worksWords.contains(lower) { works = true }
                if DecisiveTokens.failsWords.contains(lower) { fails = true }
                if let number = Self.number(lower) {
                    // A unit as the next word belongs to the number.
                    if number.unit == nil, i < words.count,
                       let unit = DecisiveTokens.units[Self.trimmed(words[i]).lowercased()] {
                        tokens.insert("\(number.digits) \(unit)")
                        i += 1
                    } else {
                        tokens.insert(number.unit.map { "\(number.digits) \($0)" } ?? number.digits)
                    }
                    continue
                }
                if Self.isIdentifier(word) { tokens.insert(lower) }
            }
        }

        /// `body` with its quoted strings taken out (each kept as a token).
        private mutating func quotedTaken(from body: String) -> String {
            let pairs: [Character: Character] = ["\"": "\"", "`": "`", "“": "”", "‘": "’", "'": "'"]
            var out = ""
            var chars = Array(body)[...]
            var previous: Character = " "
            while let c = chars.first {
                chars = chars.dropFirst()
                // A single quote opens only after a space or an opening bracket (not "don't").
                if let close = pairs[c], c != "'" || previous.isWhitespace || "([{".contains(previous),
                   let end = chars.firstIndex(of: close), end > chars.startIndex,
                   c != "'" || end + 1 == chars.endIndex || !(chars[end + 1].isLetter || chars[end + 1].isNumber) {
                    let inner = String(chars[chars.startIndex..<end])
                    let words = inner.split(whereSeparator: { $0.isWhitespace })
                    let one = words.count == 1 ? Self.trimmed(String(words[0])) : ""
                    if !one.isEmpty, Self.number(one.lowercased()) != nil || Self.isIdentifier(one) {
                        out += " \(one) "  // a quoted identifier or number is that word
                    } else if !words.isEmpty {
                        tokens.insert("\"" + words.joined(separator: " ").lowercased() + "\"")
                        out += " "
                    }
                    chars = chars[(end + 1)...]
                    previous = close
                    continue
                }
                out.append(c)
                previous = c
            }
            return out
        }

        /// The word without the punctuation around it (a leading `-`, `/`,
        /// `.`, `$` or `~` stays: flags, paths, variables).
        static func trimmed(_ word: String) -> String {
            let leading: Set<Character> = ["(", "[", "{", "<", "\"", "'", "`", "“", "‘", "*", ","]
            let trailing: Set<Character> = [".", ",", ";", ":", "!", "?", ")", "]", "}", ">", "\"", "'", "`", "”", "’", "*"]
            var w = Substring(word)
            while let f = w.first, leading.contains(f) { w = w.dropFirst() }
            while let l = w.last, trailing.contains(l) { w = w.dropLast() }
            return String(w)
        }

        /// A word that starts with a digit (not a version or a dotted
        /// name): its digits and the unit joined to it, if it is one.
        static func number(_ lower: String) -> (digits: String, unit: String?)? {
            guard let first = lower.first, first.isASCII, first.isNumber else { return nil }
            var digits = ""
            var rest = Substring(lower)
            while let c = rest.first, c.isASCII, c.isNumber || c == "," || c == "." {
                digits.append(c)
                rest = rest.dropFirst()
            }
            // 1.2.3 and 10.0.0.1 are identifiers; so is 1,2 (a list).
            guard digits.filter({ $0 == "." }).count <= 1, !digits.hasSuffix("."), !digits.hasSuffix(",") else {
                return nil
            }
            let groups = digits.split(separator: ".")[0].split(separator: ",", omittingEmptySubsequences: false)
            if groups.count > 1 {
                guard groups.dropFirst().allSatisfy({ $0.count == 3 }) else { return nil }
                digits.removeAll { $0 == "," }
            }
            if rest.isEmpty { return (digits, nil) }
            if let unit = DecisiveTokens.units[String(rest)] { return (digits, unit) }
            return nil  // 3rd, 64bit, 2xx: an identifier
        }

        /// Whether `word` (punctuation trimmed, case kept) is an identifier.
        static func isIdentifier(_ word: String) -> Bool {
            if word.allSatisfy({ $0 == "-" }) { return false }  // a dash as punctuation
            if word.contains("://") { return true }
            if word.first == "-" { return word.dropFirst().contains(where: { $0.isLetter || $0.isNumber }) }
            if word.contains(where: { $0.isNumber || "_/=$@".contains($0) }) { return true }
            if word.contains(".") {
                // e.g. and i.e. are abbreviations; config.yaml is a name.
                let parts = word.split(separator: ".")
                return !parts.allSatisfy { $0.count == 1 }
            }
            if word.dropFirst().contains("-") { return true }  // orders-api, us-east-1, short-lived
            let letters = word.filter(\.isLetter)
            if letters.count >= 2, letters.allSatisfy(\.isUppercase) { return true }
            // camelCase or PostgreSQL: a small letter followed by a capital.
            return zip(word, word.dropFirst()).contains { $0.isLowercase && $1.isUppercase }
        }
    }
}
