import TrailCore

/// What the contract's writes mean (§2, §5), written once for every engine:
/// which notes a write touches, what it refuses, how weights, deposits, tags
/// and trails change, and what goes in the write log. `Tx` says how its
/// database stores it.
public struct NoteWrites<Tx: WriteTransaction> {
    public let tx: Tx

    public init(_ tx: Tx) {
        self.tx = tx
    }

    private var now: Double { tx.now }
    private var nowMillis: Int64 { Timestamp.millis(tx.now) }

    /// Applies one of the contract's writes (and a restore); nil for the
    /// writes that are an engine's own (compaction), which it applies itself.
    public func apply(_ write: WriteRequest) throws -> WriteOutcome? {
        switch write {
        case let .deposit(deposit): try self.deposit(deposit)
        case let .reinforce(id, ns, delta): try reinforce(id, ns: ns, delta: delta)
        case let .link(from, to, ns, delta): try link(from, to, ns: ns, delta: delta)
        case let .retract(id, ns, reason): try retract(id, ns: ns, reason: reason)
        case let .revive(id, ns): try revive(id, ns: ns)
        case let .configure(change): .configured(try configure(change))
        case let .rebase(ns, bound): .rebased(try rebase(ns: ns, bound: bound))
        case let .restore(ns, records): .restored(try restore(ns: ns, records: records))
        case let .merge(deposit, into, similarity): try merge(deposit, into: into, similarity: similarity)
        case let .storeVectors(model, vectors, contests):
            // One transaction: a note whose vector is stored has its contests recorded.
            .vectorsStored(try { () throws -> Int in
                let stored = try tx.storeVectors(model: model, vectors)
                for c in contests { _ = try tx.recordContests(ns: c.ns, c.pairs) }
                return stored
            }())
        case let .recordContests(ns, pairs): .contestsRecorded(try tx.recordContests(ns: ns, pairs))
        case .markEvaporating, .evaporate, .dropDeadTrails, .sweepPacks, .setRanks, .recordCompaction, .maintainText: nil
        }
    }

    // MARK: deposit

    /// A new body becomes a live note of weight `strength`; a known body adds
    /// `strength` to its decayed weight, counts a deposit and unions tags and
    /// `after` (`NoteRow.gain`: a note keeps at most 16 tags and 32 `after`);
    /// an archived one comes back first; a retracted one is refused unless
    /// `force`, which revives it.
    public func deposit(_ d: Deposit) throws -> WriteOutcome {
        let settings = try tx.namespace(d.ns)
        let size = d.body.utf8.count
        guard size <= settings.maxNoteBytes else { throw TrailError.noteTooLarge(size: size, limit: settings.maxNoteBytes) }
        let decay = settings.decay

        let afterRows = try self.afterRows(d, settings: settings)
        // A new note, the common case, is inserted at once: the unique id
        // index tells whether the note is already there (hot or archived) in
        // the descent the insert makes anyway.
        let tags = d.tags.joined(separator: " ")
        let after = afterRows.map(\.id).joined(separator: " ")
        let fresh = NoteRow(inserted: 0, id: d.id.hex, body: d.body, tags: tags, after: after,
                            key: decay.key(weight: d.strength, at: now), agent: tx.writer.agent, at: nowMillis)
        var row: NoteRow
        let created: Bool
        var addedTags = d.tags
        if let seq = try tx.insert(fresh, ns: d.ns) {
            row = fresh
            row.seq = seq
            created = true
        } else {
            var existing: NoteRow
            switch try tx.byID(d.id.hex, ns: d.ns) {
            case let .archived(entry)?:
                // Depositing an evaporated body brings it back, then adds the strength.
                existing = try tx.unarchive(entry, settings: settings, weight: decay.weight(key: entry.key, at: now))
            case let .hot(found)?: existing = found
            case nil: throw TrailError.internal("note \(d.id.hex) is in the id index but not found")
            }
            if existing.state == .retracted && !d.force {
                throw TrailError.retracted(id: existing.id, retraction: existing.retraction
                    ?? Retraction(reason: "", agent: nil, atMillis: existing.updatedAt))
            }
            existing.key = decay.reinforced(key: existing.key, by: d.strength, at: now)
            existing.deposits += 1
            addedTags = existing.gain(tags: d.tags, after: afterRows.map(\.id))
            existing.state = .live
            existing.clearRetraction()
            existing.updatedAt = nowMillis
            try tx.update(existing, ns: d.ns, changed: .all)
            row = existing
            created = false
        }
        if !addedTags.isEmpty { try tx.addTags(addedTags, note: row.seq, ns: d.ns) }
        for a in afterRows {
            try keepFromEvaporation(a, ns: d.ns)
            _ = try tx.walkTrail(from: a.seq, to: row.seq, ns: d.ns, decay: decay, delta: d.strength)
        }
        try tx.log(ns: d.ns, op: created ? "deposit" : "redeposit", note: row.seq, other: nil, delta: d.strength,
                   detail: d.force ? "force" : nil)
        return .deposited(note: row.note(ns: settings, at: now), created: created)
    }

    /// The notes a deposit's `after` names, each once.
    private func afterRows(_ d: Deposit, settings: NamespaceSettings) throws -> [NoteRow] {
        var afterRows: [NoteRow] = []
        for prefix in d.after {
            guard !d.id.hex.hasPrefix(prefix.hex) else {
                throw TrailError.invalidParams(field: "after", message: "A note cannot come after itself; name the notes you came from.")
            }
            let row = try tx.hotNote(prefix, ns: d.ns, settings: settings)
            if !afterRows.contains(where: { $0.seq == row.seq }) { afterRows.append(row) }
        }
        return afterRows
    }

    /// A deposit that `merge_similar` sent to `target` (contract §8): the
    /// target gains the strength, a deposit, the tags and `after` as for a
    /// re-deposit, and keeps its body; the deposited body goes in its history
    /// (op `merge`, detail the body). When the deposited body is a note of
    /// the namespace itself, or the target is no longer live, it is an
    /// ordinary deposit.
    public func merge(_ d: Deposit, into target: NoteID, similarity: Double) throws -> WriteOutcome {
        let settings = try tx.namespace(d.ns)
        let size = d.body.utf8.count
        guard size <= settings.maxNoteBytes else { throw TrailError.noteTooLarge(size: size, limit: settings.maxNoteBytes) }
        guard try tx.byID(d.id.hex, ns: d.ns) == nil, case var .hot(row)? = try tx.byID(target.hex, ns: d.ns),
              row.state == .live || row.state == .evaporating else {
            return try deposit(d)
        }
        let afterRows = try afterRows(d, settings: settings).filter { $0.seq != row.seq }
        row.key = settings.decay.reinforced(key: row.key, by: d.strength, at: now)
        row.deposits += 1
        let addedTags = row.gain(tags: d.tags, after: afterRows.map(\.id))
        row.state = .live
        row.updatedAt = nowMillis
        try tx.update(row, ns: d.ns, changed: [.weight, .deposit])
        if !addedTags.isEmpty { try tx.addTags(addedTags, note: row.seq, ns: d.ns) }
        for a in afterRows {
            try keepFromEvaporation(a, ns: d.ns)
            _ = try tx.walkTrail(from: a.seq, to: row.seq, ns: d.ns, decay: settings.decay, delta: d.strength)
        }
        try tx.log(ns: d.ns, op: "merge", note: row.seq, other: nil, delta: d.strength, detail: d.body)
        return .merged(note: row.note(ns: settings, at: now), similarity: similarity)
    }

    // MARK: reinforce, link

    /// Adds `delta` (negative repels) to the decayed weight, floor 0.
    public func reinforce(_ id: IDPrefix, ns: String, delta: Double) throws -> WriteOutcome {
        let settings = try tx.requireNamespace(ns, id: id)
        var row = try tx.hotNote(id, ns: ns, settings: settings)
        try Self.refuseRetracted(row)
        row.key = settings.decay.reinforced(key: row.key, by: delta, at: now)
        row.updatedAt = nowMillis
        // A note set aside for evaporation is live again once used.
        if row.state == .evaporating { row.state = .live }
        try tx.update(row, ns: ns, changed: .weight)
        try tx.log(ns: ns, op: "reinforce", note: row.seq, delta: delta)
        return .reinforced(note: row.note(ns: settings, at: now))
    }

    /// Walks the trail `from -> to` by `delta`, between two different notes
    /// that are not retracted.
    public func link(_ from: IDPrefix, _ to: IDPrefix, ns: String, delta: Double) throws -> WriteOutcome {
        let settings = try tx.requireNamespace(ns, id: from)
        let src = try tx.hotNote(from, ns: ns, settings: settings)
        let dst = try tx.hotNote(to, ns: ns, settings: settings)
        guard src.seq != dst.seq else {
            throw TrailError.invalidParams(field: "to", message: "A trail joins two different notes; give another note as to.")
        }
        try Self.refuseRetracted(src)
        try Self.refuseRetracted(dst)
        try keepFromEvaporation(src, ns: ns)
        try keepFromEvaporation(dst, ns: ns)
        let weight = try tx.walkTrail(from: src.seq, to: dst.seq, ns: ns, decay: settings.decay, delta: delta)
        try tx.log(ns: ns, op: "link", note: dst.seq, other: src.seq, delta: delta)
        return .linked(from: NoteID(trustedHex: src.id), to: dst.note(ns: settings, at: now), weight: weight)
    }

    /// A note set aside for evaporation is live again once a trail to or
    /// from it changes, as once it is used: a compaction packs set-aside
    /// notes from a read, outside the write lock, and archives only those
    /// still set aside when it commits (`PackedEvaporation`), so the record
    /// it packed never misses a trail. The row's weight and `updated_at` stay.
    private func keepFromEvaporation(_ row: NoteRow, ns: String) throws {
        guard row.state == .evaporating else { return }
        var live = row
        live.state = .live
        try tx.update(live, ns: ns, changed: .weight)
    }

    // MARK: retract, revive

    /// Marks the note retracted with the reason and who gave it; its weight stays.
    public func retract(_ id: IDPrefix, ns: String, reason: String) throws -> WriteOutcome {
        let settings = try tx.requireNamespace(ns, id: id)
        var row = try tx.hotNote(id, ns: ns, settings: settings)
        row.state = .retracted
        row.retractionReason = reason
        row.retractionAgent = tx.writer.agent
        row.retractedAt = nowMillis
        row.updatedAt = nowMillis
        try tx.update(row, ns: ns, changed: .retraction)
        try tx.log(ns: ns, op: "retract", note: row.seq, other: nil, delta: nil, detail: reason)
        return .retracted(note: row.note(ns: settings, at: now))
    }

    /// Makes a retracted or archived note live again.
    public func revive(_ id: IDPrefix, ns: String) throws -> WriteOutcome {
        let settings = try tx.requireNamespace(ns, id: id)
        var row: NoteRow
        switch try tx.locate(id, ns: ns) {
        case let .hot(hot): row = hot
        case let .archived(entry):
            // An evaporated note comes back with its decayed weight, or 1.0
            // (a fresh deposit's) if that is more, so it is live again.
            row = try tx.unarchive(entry, settings: settings,
                                   weight: max(settings.decay.weight(key: entry.key, at: now), 1.0))
        }
        if row.state == .retracted {
            // The weight comes back as it would be had the note never been
            // retracted; the retraction stays on record in the write log.
            row.state = .live
            row.clearRetraction()
            row.updatedAt = nowMillis
            try tx.update(row, ns: ns, changed: .retraction)
        }
        try tx.log(ns: ns, op: "revive", note: row.seq)
        return .revived(note: row.note(ns: settings, at: now))
    }

    // MARK: restore

    /// Sets each note to its record (a restore: running it twice changes
    /// nothing), then its trails; archived records are archived again with
    /// theirs. Runs alone in its transaction: a record that cannot be
    /// restored undoes the whole import.
    public func restore(ns: String, records: [NoteRecord]) throws -> RestoreReport {
        let settings = try tx.namespace(ns)
        let decay = settings.decay
        var created = 0
        var seqs: [String: Int64] = [:]
        for (i, record) in records.enumerated() {
            let n = record.note
            let size = n.body.utf8.count
            guard size <= settings.maxNoteBytes else {
                throw TrailError.invalidParams(field: "records[\(i)].body", message: "records[\(i)] is \(size) bytes but namespace \(ns) takes at most \(settings.maxNoteBytes); raise its max_note_bytes first.")
            }
            // Archived records are written hot, then archived below with their trails.
            let existing: NoteRow?
            switch try tx.byID(n.id.hex, ns: ns) {
            case let .archived(entry)?: existing = try tx.unarchive(entry, settings: settings, weight: n.weight)
            case let .hot(row)?: existing = row
            case nil: existing = nil
            }
            if existing == nil { created += 1 }
            let seq = try tx.restoreNote(n, key: decay.key(weight: n.weight, at: now), over: existing, ns: ns)
            seqs[n.id.hex] = seq
            try tx.log(ns: ns, op: "import", note: seq)
        }
        var trails = 0
        for (i, record) in records.enumerated() {
            let src = seqs[record.note.id.hex]!
            for (j, end) in record.trails.enumerated() {
                var dst = seqs[end.to.hex]
                if dst == nil, case let .hot(row)? = try tx.byID(end.to.hex, ns: ns) {
                    try keepFromEvaporation(row, ns: ns)
                    dst = row.seq
                }
                guard let dst else {
                    throw TrailError.invalidParams(field: "records[\(i)].trails[\(j)]", message: "records[\(i)].trails[\(j)] leads to \(end.to.hex), which is neither in the import nor in namespace \(ns); import the whole export file.")
                }
                try tx.setTrail(from: src, to: dst, ns: ns, key: decay.key(weight: end.weight, at: now))
                trails += 1
            }
        }
        let archived = records.filter { $0.note.state == .archived }.compactMap { seqs[$0.note.id.hex] }
        if !archived.isEmpty { try tx.archiveAgain(archived, settings: settings) }
        return RestoreReport(ns: ns, notes: records.count, created: created, trails: trails)
    }

    // MARK: namespaces

    /// New settings; a new half-life keeps every current weight (the keys
    /// are rebased to now first).
    public func configure(_ change: NamespaceChange) throws -> NamespaceSettings {
        var settings = try tx.namespace(change.ns)
        if let h = change.halfLife, h != settings.halfLife {
            // Keep every current weight: move the landmark to now and rewrite
            // each key as log2(weight now), then switch to the new half-life.
            try tx.rebase(settings, to: now)
            settings.landmark = now
            settings.halfLife = h
        }
        if let e = change.evaporateBelow { settings.evaporateBelow = e }
        if let m = change.maxNoteBytes { settings.maxNoteBytes = m }
        if let c = change.contestSimilarity { settings.contestSimilarity = c }
        try tx.saveNamespace(settings)
        try tx.log(ns: change.ns, op: "configure", note: nil, other: nil, delta: nil,
                   detail: "half_life_s=\(settings.halfLife) evaporate_below=\(settings.evaporateBelow) max_note_bytes=\(settings.maxNoteBytes)"
                       + " contest_similarity=\(settings.contestSimilarity)")
        return settings
    }

    /// Moves the landmark of `ns` to now if it is more than `bound`
    /// half-lives old, before keys grow large; weights are unchanged.
    public func rebase(ns: String, bound: Double) throws -> Bool {
        guard let settings = try tx.existingNamespace(ns), settings.decay.offset(at: now) > bound else { return false }
        try tx.rebase(settings, to: now)
        try tx.log(ns: ns, op: "rebase", note: nil, other: nil, delta: nil, detail: "landmark \(settings.landmark) -> \(now)")
        return true
    }

    /// A retracted note refuses reinforcement and trails.
    public static func refuseRetracted(_ row: NoteRow) throws {
        if row.state == .retracted, let retraction = row.retraction {
            throw TrailError.retracted(id: row.id, retraction: retraction)
        }
    }
}

extension NoteRow {
    /// Forgets a retraction (the write log keeps it).
    public mutating func clearRetraction() {
        retractionReason = nil
        retractionAgent = nil
        retractedAt = nil
    }
}
