import TrailCore
import TrailStore

/// `sense` with `similar` (contract §8; the score is `MeaningScore`'s).
///
/// The index gives the notes of the namespace nearest `similar` by their
/// codes (`VectorIndex.candidates(for:)` of them); the store gives those notes as they are now, with their
/// float vectors, for the exact cosine (the re-rank) and the filters. When
/// the filters leave fewer than the list's depth, the search widens (four
/// times as many candidates) until the namespace is exhausted. A tag filter
/// that leaves few notes (`taggedAtMost`) is answered from the tag index
/// instead: those notes are scored one by one.
extension Recall {
    /// Candidates asked of the index at first, per note the list needs.
    static let widening = 4

    /// The notes `q` finds by meaning, each with its `contested_by` (contract §8).
    func sense(_ q: SenseQuery) async throws(TrailError) -> [ScoredNote] {
        let notes = try await notesByMeaning(q)
        return notes.contested(by: try await store.contestRows(ns: q.ns, ids: notes.map(\.note.id)))
    }

    private func notesByMeaning(_ q: SenseQuery) async throws(TrailError) -> [ScoredNote] {
        guard let similar = q.similar else { throw .internal("a search by meaning without similar") }
        if similar.utf8.count > Limits.defaultMaxNoteBytes {
            let limit = try await store.summary(ns: q.ns).settings.maxNoteBytes
            guard similar.utf8.count <= limit else {
                throw .invalidParams(field: "similar", message: "similar is \(similar.utf8.count) bytes but this namespace's notes take at most \(limit); describe what you look for in a sentence or two.")
            }
        }
        let vector = try await embed(similar)
        let depth = q.words == nil ? q.limit : MeaningScore.depth(limit: q.limit)
        // With a budget, notes that do not fit are skipped: the list goes deeper.
        let wanted = q.budgetBytes == nil ? depth : max(depth, MeaningScore.depth(limit: q.limit))
        let found: [(note: Note, similarity: Double)]
        if let few = try await tagged(q, vector: vector) {
            found = few
        } else {
            found = try await nearest(q, vector: vector, wanted: wanted)
        }
        let best = found.map(\.similarity).max() ?? 0
        let meaning = found.map {
            ScoredNote(note: $0.note, score: MeaningScore.alone(similarity: $0.similarity, best: best, weight: $0.note.weight, rank: $0.note.rank),
                       similarity: $0.similarity)
        }.sorted(by: Self.order)
        guard let words = q.words else { return Self.walk(meaning, q) }

        // Fused with the words order of the same filters.
        var byWords = q
        byWords.similar = nil
        byWords.minSimilarity = nil
        byWords.budgetBytes = nil
        byWords.limit = MeaningScore.depth(limit: q.limit)
        byWords.words = words
        let wordsList = try await store.sense(byWords)
        let meaningList = Array(meaning.prefix(MeaningScore.depth(limit: q.limit)))
        var places: [NoteID: (meaning: Int?, words: Int?, note: ScoredNote)] = [:]
        for (i, n) in meaningList.enumerated() { places[n.note.id] = (i + 1, nil, n) }
        var wordsOnly: [NoteID] = []
        for (i, n) in wordsList.enumerated() {
            if let entry = places[n.note.id] {
                places[n.note.id] = (entry.meaning, i + 1, entry.note)
            } else {
                places[n.note.id] = (nil, i + 1, ScoredNote(note: n.note, score: 0, similarity: nil))
                wordsOnly.append(n.note.id)
            }
        }
        // Notes found by words alone still carry their similarity when embedded.
        if !wordsOnly.isEmpty {
            for row in try await store.meaningRows(ns: q.ns, .ids(wordsOnly), model: model) {
                guard let v = row.vector else { continue }
                places[row.note.id]?.note.similarity = Self.cosine(vector, v)
            }
        }
        let fused = places.values.compactMap { entry -> ScoredNote? in
            if let m = q.minSimilarity, (entry.note.similarity ?? -2) < m { return nil }
            var n = entry.note
            n.score = MeaningScore.fused(meaningPlace: entry.meaning, wordsPlace: entry.words)
            return n
        }.sorted(by: Self.order)
        return Self.walk(fused, q)
    }

    /// The notes the index finds nearest `vector` that pass `q`'s filters,
    /// with their exact similarity: `wanted` of them, or all there are. The
    /// search widens (four times as many candidates) while the filters
    /// leave too few, reading only the rows it has not read yet.
    private func nearest(_ q: SenseQuery, vector: [Float], wanted: Int) async throws(TrailError) -> [(note: Note, similarity: Double)] {
        var k = max(64, wanted * Self.widening)
        var found: [(note: Note, similarity: Double)] = []
        var read = Set<Int64>()
        while true {
            // Product codes put the nearest a few places down: more candidates for the exact re-rank.
            let asked = index.candidates(for: k)
            let candidates = index.nearest(ns: q.ns, to: vector, k: asked)
            let unread = candidates.map(\.handle).filter { !read.contains($0) }
            read.formUnion(unread)
            if !unread.isEmpty {
                found += scored(try await store.meaningRows(ns: q.ns, .handles(unread), model: model), q, vector)
            }
            if found.count >= wanted || candidates.count < asked { return found }
            k *= Self.widening
        }
    }

    /// Tagged notes a search by meaning with `tags` or `any_tags` scores
    /// one by one instead of going through the index, when there are at
    /// most this many.
    static let taggedAtMost = 256

    /// A search whose tag filters leave few notes scores those notes
    /// exactly: the tag index finds them at once, where the index of
    /// meaning would hand over the whole namespace nearest first for the
    /// filters to throw nearly all of it away. nil when there are no tag
    /// filters or more than `taggedAtMost` notes pass them.
    private func tagged(_ q: SenseQuery, vector: [Float]) async throws(TrailError) -> [(note: Note, similarity: Double)]? {
        guard !q.allTags.isEmpty || !q.anyTags.isEmpty else { return nil }
        var byTags = q
        byTags.similar = nil
        byTags.minSimilarity = nil
        byTags.words = nil
        byTags.budgetBytes = nil
        byTags.limit = Self.taggedAtMost + 1
        let notes = try await store.sense(byTags)
        guard notes.count <= Self.taggedAtMost else { return nil }
        if notes.isEmpty { return [] }
        return scored(try await store.meaningRows(ns: q.ns, .ids(notes.map(\.note.id)), model: model), q, vector)
    }

    /// The rows that carry a vector of the model and pass `q`'s filters,
    /// with their exact cosine to `vector`.
    private func scored(_ rows: [MeaningRow], _ q: SenseQuery, _ vector: [Float]) -> [(note: Note, similarity: Double)] {
        rows.compactMap { row in
            guard let v = row.vector, v.count == vector.count, Self.passes(row.note, q) else { return nil }
            let s = Self.cosine(vector, v)
            if let m = q.minSimilarity, s < m { return nil }
            return (row.note, s)
        }
    }

    /// Score descending, then similarity descending, then id ascending.
    static func order(_ a: ScoredNote, _ b: ScoredNote) -> Bool {
        if a.score != b.score { return a.score > b.score }
        let (x, y) = (a.similarity ?? -2, b.similarity ?? -2)
        return x != y ? x > y : a.note.id < b.note.id
    }

    /// The filters every `sense` applies: faded, `min_weight`, `tags`, `any_tags`.
    static func passes(_ note: Note, _ q: SenseQuery) -> Bool {
        if note.state == .retracted || note.state == .archived { return false }
        if note.state == .faded && !q.includeFaded { return false }
        if let m = q.minWeight, note.weight < m { return false }
        if !q.allTags.allSatisfy(note.tags.contains) { return false }
        if !q.anyTags.isEmpty && !q.anyTags.contains(where: note.tags.contains) { return false }
        return true
    }

    /// Takes notes in order while they fit the budget, until `limit`.
    static func walk(_ ranked: [ScoredNote], _ q: SenseQuery) -> [ScoredNote] {
        var budget = q.budgetBytes
        var taken: [ScoredNote] = []
        for n in ranked {
            if taken.count == q.limit { break }
            if let b = budget {
                let size = n.note.body.utf8.count
                guard size <= b else { continue }
                budget = b - size
            }
            taken.append(n)
        }
        return taken
    }
}
