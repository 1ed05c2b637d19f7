import COpenBLAS
import Foundation

/// A sentence-embedding model (all-MiniLM-L6-v2 by default): WordPiece
/// tokens through a BERT encoder, mean-pooled over the tokens and scaled to
/// unit length, so that a dot product of two vectors is their cosine.
///
/// Loads its folder once (`config.json`, `vocab.txt`, `model.safetensors`);
/// `embed` is then safe to call from several threads at once, each call
/// running on the caller's thread (OpenBLAS is held to one thread per call:
/// callers choose their own parallelism). A text longer than the model's
/// limit (256 tokens with [CLS] and [SEP]) is embedded from its first 254
/// word pieces.
public final class SentenceEncoder: Sendable {
    /// The model's name: its folder's name (`all-MiniLM-L6-v2`).
    public let name: String
    /// Numbers in a vector (384).
    public let dimensions: Int
    public let tokenizer: WordPieceTokenizer
    let weights: EncoderWeights

    /// Tokens one pass of the encoder takes at most (texts are batched up to it).
    static let tokensPerPass = 4096

    /// The files a model folder must hold.
    public static let files = ["config.json", "vocab.txt", "model.safetensors"]

    /// What the dense layers compute with (`int8` unless asked otherwise).
    public var precision: EncoderPrecision { weights.precision }

    /// Loads the model in `directory`: about 0.3 s, and 25 MB with `int8`
    /// (the word embeddings 12 MB of it), 90 MB with `float`.
    /// Throws when a file is missing or damaged, naming it.
    public init(directory: String, precision: EncoderPrecision = .int8) throws(EmbeddingModelError) {
        let folder = URL(fileURLWithPath: directory)
        for file in Self.files where !FileManager.default.fileExists(atPath: folder.appendingPathComponent(file).path) {
            throw .missing(folder.appendingPathComponent(file).path)
        }
        let shape = try EncoderShape(config: folder.appendingPathComponent("config.json").path)
        let maxTokens = Self.maxSequenceLength(folder) ?? min(shape.positions, 512)
        do {
            tokenizer = try WordPieceTokenizer(vocabulary: folder.appendingPathComponent("vocab.txt").path, maxTokens: maxTokens)
        } catch {
            throw .unreadable(folder.appendingPathComponent("vocab.txt").path, "\(error)")
        }
        let file: SafeTensors
        do { file = try SafeTensors(path: folder.appendingPathComponent("model.safetensors").path) } catch { throw .weights(error) }
        weights = try EncoderWeights(file, shape: shape, precision: precision)
        name = folder.standardizedFileURL.lastPathComponent
        dimensions = shape.width
        openblas_set_num_threads(1)
    }

    /// `max_seq_length` of sentence-transformers' `sentence_bert_config.json`, when there.
    private static func maxSequenceLength(_ folder: URL) -> Int? {
        guard let data = FileManager.default.contents(atPath: folder.appendingPathComponent("sentence_bert_config.json").path),
              let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return o["max_seq_length"] as? Int
    }

    /// The unit vector of `text`.
    public func embed(_ text: String) -> [Float] {
        embed([text])[0]
    }

    /// The unit vectors of `texts`, in order. Texts are encoded together
    /// (their tokens packed into shared matrix products) up to 4096 tokens a
    /// pass; about 20 MFLOP per token.
    public func embed(_ texts: [String]) -> [[Float]] {
        let tokenized = texts.map { tokenizer.encode($0) }
        var vectors: [[Float]] = []
        vectors.reserveCapacity(texts.count)
        var pass: [[Int32]] = []
        var passTokens = 0
        for ids in tokenized {
            if passTokens + ids.count > Self.tokensPerPass, !pass.isEmpty {
                vectors += encode(pass)
                pass.removeAll(keepingCapacity: true)
                passTokens = 0
            }
            pass.append(ids)
            passTokens += ids.count
        }
        if !pass.isEmpty { vectors += encode(pass) }
        return vectors
    }

    /// One pass of the encoder over `sequences` of token ids, packed.
    func encode(_ sequences: [[Int32]]) -> [[Float]] {
        let shape = weights.shape
        let width = shape.width
        let lengths = sequences.map(\.count)
        let tokens = lengths.reduce(0, +)
        let longest = lengths.max() ?? 0
        let x = UnsafeMutablePointer<Float>.allocate(capacity: tokens * width)
        let qkv = UnsafeMutablePointer<Float>.allocate(capacity: tokens * 3 * width)
        let context = UnsafeMutablePointer<Float>.allocate(capacity: tokens * width)
        let hidden = UnsafeMutablePointer<Float>.allocate(capacity: tokens * shape.intermediate)
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: EncoderLayers.attentionWork(longest: longest, width: width, heads: shape.heads))
        let scratch = QuantizedInputs(tokens: tokens, widest: max(width, shape.intermediate))
        defer {
            [x, qkv, context, hidden, scores].forEach { $0.deallocate() }
            scratch.deallocate()
        }

        // x[t] = word[id] + position[p] + type[0], then layer norm.
        var t = 0
        for ids in sequences {
            for (position, id) in ids.enumerated() {
                weights.words.sum(Int(id), width: width, place: weights.positions + position * width,
                                  type: weights.tokenType, into: x + t * width)
                t += 1
            }
        }
        EncoderLayers.layerNorm(x, tokens: tokens, width: width, weights.embeddingNorm)

        for layer in weights.layers {
            // x = norm(x + attention(x) · Wₒᵀ)
            EncoderLayers.linear(x, tokens: tokens, layer.attention, into: qkv, scratch: scratch)
            EncoderLayers.attention(qkv, lengths: lengths.map { Int32($0) }, width: width, heads: shape.heads, work: scores, into: context)
            EncoderLayers.linear(context, tokens: tokens, layer.attentionOutput, into: qkv, scratch: scratch)
            EncoderLayers.layerNorm(x, adding: qkv, tokens: tokens, width: width, layer.attentionNorm)
            // x = norm(x + gelu(x · Wᵢᵀ) · W₂ᵀ)
            EncoderLayers.linear(x, tokens: tokens, layer.intermediate, into: hidden, scratch: scratch)
            EncoderLayers.gelu(hidden, count: tokens * shape.intermediate)
            EncoderLayers.linear(hidden, tokens: tokens, layer.output, into: context, scratch: scratch)
            EncoderLayers.layerNorm(x, adding: context, tokens: tokens, width: width, layer.outputNorm)
        }
        return EncoderLayers.meanPoolNormalized(x, lengths: lengths, width: width)
    }
}

/// A model folder that cannot be used, naming the file.
public enum EmbeddingModelError: Error, CustomStringConvertible, Equatable {
    case missing(String)
    case unreadable(String, String)
    case weights(SafeTensorsError)

    public var description: String {
        switch self {
        case let .missing(path): "\(path) is missing"
        case let .unreadable(path, reason): "\(path): \(reason)"
        case let .weights(error): error.description
        }
    }
}
