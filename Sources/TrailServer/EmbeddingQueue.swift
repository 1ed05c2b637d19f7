import NIOPosix
import Synchronization
import TrailCore
import TrailEmbedding

/// Embeds the texts that requests ask for (a sense's `similar`, a merge's
/// body) in passes of the model on NIO's blocking pool: the texts asked
/// while a pass runs go together into the next one.
///
/// A pass over one short text costs about as much in copying the weights
/// into the matrix kernel's layout as in arithmetic (the weights are 90 MB
/// and are laid out again on every pass); a pass over several texts pays
/// that once. A text asked while no pass runs starts one at once, so a lone
/// request waits for nothing; under load, texts wait at most for the pass
/// in progress. Passes of this queue run one at a time (the indexer has a
/// thread of its own).
final class EmbeddingQueue: Sendable {
    /// Texts in one pass at most.
    static let passTexts = 32

    private struct Waiting {
        var texts: [(text: String, answer: CheckedContinuation<[Float], any Error>)] = []
        var running = false
    }

    private let encoder: SentenceEncoder
    private let waiting = Mutex(Waiting())
    /// Passes run and texts embedded by them, since the start.
    private let counts = Mutex((passes: 0, texts: 0))

    init(encoder: SentenceEncoder) {
        self.encoder = encoder
    }

    /// The unit vector of `text`, from the next pass of the model.
    func embed(_ text: String) async throws -> [Float] {
        try await withCheckedThrowingContinuation { (answer: CheckedContinuation<[Float], any Error>) in
            let start = waiting.withLock { w -> Bool in
                w.texts.append((text, answer))
                if w.running { return false }
                w.running = true
                return true
            }
            if start { drain() }
        }
    }

    /// Passes and texts so far: texts / passes is the mean pass size.
    var passes: (passes: Int, texts: Int) { counts.withLock { $0 } }

    /// Runs passes on the blocking pool until nothing waits.
    private func drain() {
        NIOThreadPool.singleton.submit { [self] state in
            while true {
                let pass = waiting.withLock { w -> [(text: String, answer: CheckedContinuation<[Float], any Error>)] in
                    let taken = Array(w.texts.prefix(Self.passTexts))
                    w.texts.removeFirst(taken.count)
                    if taken.isEmpty { w.running = false }
                    return taken
                }
                if pass.isEmpty { return }
                guard case .active = state else {
                    for p in pass { p.answer.resume(throwing: TrailError.internal("embedding failed: the daemon is stopping")) }
                    continue
                }
                let vectors = encoder.embed(pass.map(\.text))
                counts.withLock { $0 = ($0.passes + 1, $0.texts + pass.count) }
                for (p, v) in zip(pass, vectors) { p.answer.resume(returning: v) }
            }
        }
    }
}
