import Foundation

/// BERT's WordPiece tokenizer, as all-MiniLM-L6-v2's `tokenizer.json` sets
/// it up (`BertNormalizer` with lower case and accents stripped,
/// `BertPreTokenizer`, `WordPiece` with `##` pieces): text in, token ids out,
/// `[CLS] ... [SEP]`, at most `maxTokens` of them.
///
/// Each step follows the reference implementation (Hugging Face
/// `tokenizers`) character for character, where a character is a Unicode
/// scalar: a test holds the ids to that package's over the same files.
public struct WordPieceTokenizer: Sendable {
    /// Token ids by piece (`vocab.txt`: the id is the line number).
    private let vocab: [String: Int32]
    public let unknown: Int32
    public let classify: Int32
    public let separator: Int32
    /// The model's limit, `[CLS]` and `[SEP]` included (256 for this model:
    /// its `sentence_bert_config.json`). A longer text keeps its first
    /// `maxTokens - 2` pieces.
    public let maxTokens: Int
    /// A word longer than this many characters is `[UNK]` whole.
    public static let maxWordCharacters = 100

    /// Reads `vocab.txt` (one piece a line). Throws when the file cannot be
    /// read or lacks `[UNK]`, `[CLS]` or `[SEP]`.
    public init(vocabulary path: String, maxTokens: Int = 256) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var vocab: [String: Int32] = [:]
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        for (i, line) in lines.enumerated() where vocab[String(line)] == nil {
            vocab[String(line)] = Int32(i)
        }
        guard let unk = vocab["[UNK]"], let cls = vocab["[CLS]"], let sep = vocab["[SEP]"] else {
            throw TokenizerError.badVocabulary(path)
        }
        self.vocab = vocab
        unknown = unk
        classify = cls
        separator = sep
        self.maxTokens = maxTokens
    }

    /// `[CLS]`, the pieces of `text` (the first `maxTokens - 2`), `[SEP]`.
    public func encode(_ text: String) -> [Int32] {
        var ids: [Int32] = [classify]
        let room = maxTokens - 2
        for word in Self.words(Self.normalized(text)) {
            for id in pieces(word) {
                guard ids.count - 1 < room else { break }
                ids.append(id)
            }
            if ids.count - 1 >= room { break }
        }
        ids.append(separator)
        return ids
    }

    // MARK: BertNormalizer

    /// Control characters dropped and white space made a space (clean
    /// text), CJK ideographs set apart by spaces, accents stripped (NFD,
    /// then no non-spacing marks), lower case (each character's own mapping).
    static func normalized(_ text: String) -> String {
        var cleaned = String.UnicodeScalarView()
        for s in text.unicodeScalars {
            if s.value == 0 || s.value == 0xFFFD || isControl(s) { continue }
            if isWhitespace(s) {
                cleaned.append(" ")
            } else if isCJK(s) {
                cleaned.append(" ")
                cleaned.append(s)
                cleaned.append(" ")
            } else {
                cleaned.append(s)
            }
        }
        var out = String.UnicodeScalarView()
        for s in String(cleaned).decomposedStringWithCanonicalMapping.unicodeScalars
        where s.properties.generalCategory != .nonspacingMark {
            out.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
        }
        return String(out)
    }

    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        s == " " || s == "\t" || s == "\n" || s == "\r" || s.properties.isWhitespace
    }

    /// Any "other" category (Cc, Cf, Cn, Co, Cs) but tab, newline and return.
    static func isControl(_ s: Unicode.Scalar) -> Bool {
        if s == "\t" || s == "\n" || s == "\r" { return false }
        switch s.properties.generalCategory {
        case .control, .format, .unassigned, .privateUse, .surrogate: return true
        default: return false
        }
    }

    static func isCJK(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
             0x2B820...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F: true
        default: false
        }
    }

    // MARK: BertPreTokenizer

    /// Runs between white space, with every punctuation character a word of its own.
    static func words(_ text: String) -> [[Unicode.Scalar]] {
        var words: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        for s in text.unicodeScalars {
            if isWhitespace(s) {
                if !current.isEmpty { words.append(current); current = [] }
            } else if isPunctuation(s) {
                if !current.isEmpty { words.append(current); current = [] }
                words.append([s])
            } else {
                current.append(s)
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    /// ASCII punctuation (`!`-`/`, `:`-`@`, `[`-`` ` ``, `{`-`~`) or a Unicode punctuation category.
    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 33...47, 58...64, 91...96, 123...126: return true
        default: break
        }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
             .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }

    // MARK: WordPiece

    /// Greedy longest match from the start, later pieces prefixed `##`; a
    /// word with a part no piece matches, or too long, is `[UNK]` whole.
    func pieces(_ word: [Unicode.Scalar]) -> [Int32] {
        guard word.count <= Self.maxWordCharacters else { return [unknown] }
        var ids: [Int32] = []
        var start = 0
        while start < word.count {
            var end = word.count
            var found: Int32?
            while start < end {
                var piece = String(String.UnicodeScalarView(word[start..<end]))
                if start > 0 { piece = "##" + piece }
                if let id = vocab[piece] {
                    found = id
                    break
                }
                end -= 1
            }
            guard let id = found else { return [unknown] }
            ids.append(id)
            start = end
        }
        return ids
    }
}

/// A tokenizer's files could not be used.
public enum TokenizerError: Error, CustomStringConvertible {
    case badVocabulary(String)

    public var description: String {
        switch self {
        case let .badVocabulary(path): "\(path) is not a WordPiece vocabulary with [UNK], [CLS] and [SEP]; fetch the model again (make model)"
        }
    }
}
