import Foundation
import Testing
@testable import TrailEmbedding

/// The model's folder: TRAIL_MODEL_DIR, else models/all-MiniLM-L6-v2 at the
/// repository root (`make model`, which `make test` runs, fetches it).
func modelDirectory() -> String {
    if let dir = ProcessInfo.processInfo.environment["TRAIL_MODEL_DIR"] { return dir }
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("models/all-MiniLM-L6-v2").path
}

/// Token ids of `texts` by Hugging Face `tokenizers` (PyPI) over the same
/// tokenizer.json, truncated at `maxTokens`: the independent reference.
func referenceIDs(_ texts: [String], maxTokens: Int) throws -> [[Int32]] {
    let script = """
        import json, sys
        from tokenizers import Tokenizer
        tok = Tokenizer.from_file(sys.argv[1])
        tok.no_padding()
        tok.enable_truncation(int(sys.argv[2]))
        texts = json.load(sys.stdin)
        print(json.dumps([tok.encode(t).ids for t in texts]))
        """
    guard let data = try python(["-c", script, modelDirectory() + "/tokenizer.json", String(maxTokens)],
                                input: try JSONEncoder().encode(texts)) else {
        throw TokenizerError.badVocabulary("python3 with tokenizers (pip install -r tests/requirements.txt) failed")
    }
    return try JSONDecoder().decode([[Int32]].self, from: data)
}

/// What `python3 ARGUMENTS` prints given `input`, or nil when it fails:
/// how the tests reach their independent references.
func python(_ arguments: [String], input data: Data) throws -> Data? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3"] + arguments
    let input = Pipe(), output = Pipe()
    process.standardInput = input
    process.standardOutput = output
    try process.run()
    input.fileHandleForWriting.write(data)
    try input.fileHandleForWriting.close()
    let printed = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return process.terminationStatus == 0 ? printed : nil
}

@Suite("WordPiece tokenizer")
struct WordPieceTokenizerTests {
    static let corpus: [String] = [
        "the build needs libzstd-dev",
        "Hello, World! How's it going?",
        "café naïve résumé Ångström façade",
        "ÀÉÎÕÜ àéîõü ÇçÑñ",
        "Straße Σίσυφος ΟΔΥΣΣΕΥΣ İstanbul",
        "中文分词测试：我爱北京天安门。",
        "日本語のテキストとカタカナ、ひらがな",
        "한국어 텍스트도 있습니다",
        "emoji 🐜🐜 trail 🧪 test 👩‍👩‍👧 done ✅",
        "func deposit(_ d: Deposit) throws -> WriteOutcome { let x = a[i] + b * 2; return .ok }",
        "SELECT n.seq FROM note n WHERE n.key >= $2 ORDER BY n.key DESC LIMIT 10;",
        "tabs\tand\nnewlines\r\nand  many   spaces",
        "control\u{0}chars\u{1}\u{7}here\u{200B}zero\u{FEFF}width",
        "combining e\u{301} and a\u{308} marks, precomposed é ä",
        "mixed: 3.14159, 1e-9, 0xDEADBEEF, v1.2.3-beta+exp",
        "punctuation —– “quotes” «guillemets» ¿qué? ¡sí! … ‽",
        "symbols $100 + 5% = €105 ± 2 © ® ™ ° µ",
        "العربية نص قصير",
        "עברית טקסט",
        "Русский текст с ЁЁ и ё",
        "a" + String(repeating: "b", count: 120) + " short",
        "supercalifragilisticexpialidocious antidisestablishmentarianism",
        "URLs https://example.com/path?q=1&r=2#frag and mail@example.org",
        "",
        "   ",
        String(repeating: "a long note over the model's limit keeps its first pieces; ", count: 40),
    ]

    @Test("token ids equal those of the tokenizers package over the same files, on a varied corpus")
    func matchesReference() throws {
        let tokenizer = try WordPieceTokenizer(vocabulary: modelDirectory() + "/vocab.txt", maxTokens: 256)
        let reference = try referenceIDs(Self.corpus, maxTokens: 256)
        #expect(reference.count == Self.corpus.count)
        for (text, want) in zip(Self.corpus, reference) {
            #expect(tokenizer.encode(text) == want, "\(text.debugDescription)")
        }
    }

    @Test("a note over the limit keeps its first pieces, with [CLS] and [SEP]")
    func truncation() throws {
        let tokenizer = try WordPieceTokenizer(vocabulary: modelDirectory() + "/vocab.txt", maxTokens: 16)
        let ids = tokenizer.encode(String(repeating: "ant ", count: 100))
        #expect(ids.count == 16)
        #expect(ids.first == tokenizer.classify && ids.last == tokenizer.separator)
        #expect(try referenceIDs([String(repeating: "ant ", count: 100)], maxTokens: 16) == [ids])
    }

    @Test("a vocabulary without the special tokens is refused")
    func badVocabulary() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vocab-\(UUID()).txt").path
        try "a\nb\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: TokenizerError.self) { try WordPieceTokenizer(vocabulary: path) }
        #expect(throws: (any Error).self) { try WordPieceTokenizer(vocabulary: path + ".missing") }
    }
}
