import Foundation
import GRDB
import TrailCore

/// The writes of the contract, applied inside the group commit's transaction
/// at one instant `now` by one `writer`.
struct SQLiteWrites {
    let db: Database
    let now: Double
    let writer: Writer
    let packs: ArchivePacks
    var fault: CompactionFault? = nil

    var nowMillis: Int64 { Timestamp.millis(now) }

    func apply(_ write: WriteRequest) throws -> WriteOutcome {
        switch write {
        case let .deposit(deposit): try self.deposit(deposit)
        case let .reinforce(id, ns, delta): try reinforce(id, ns: ns, delta: delta)
        case let .link(from, to, ns, delta): try link(from, to, ns: ns, delta: delta)
        case let .retract(id, ns, reason): try retract(id, ns: ns, reason: reason)
        case let .revive(id, ns): try revive(id, ns: ns)
        case let .configure(change): .configured(try configure(change))
        case let .restore(ns, records): .restored(try restore(ns: ns, records: records))
        case let .markEvaporating(ns, batch): .marked(try markEvaporating(ns: ns, batch: batch))
        case let .evaporate(ns, batch): .evaporated(try evaporate(ns: ns, batch: batch, fault: fault))
        case let .dropDeadTrails(ns): .trailsDropped(try dropDeadTrails(ns: ns))
        case .sweepPacks: .swept(removed: try sweepPacks())
        case let .setRanks(ns, ranks): .ranked(try setRanks(ns: ns, ranks: ranks))
        case let .rebase(ns, bound): .rebased(try rebaseIfNeeded(ns: ns, bound: bound))
        case let .recordCompaction(report): try { try recordCompaction(report); return .recorded }()
        case .maintainText: .textMaintained(rebuilt: try rebuildTextIfStale())
        }
    }

    // MARK: deposit

    private func deposit(_ d: Deposit) throws -> WriteOutcome {
        let settings = try Self.namespace(db, d.ns, creatingAt: now)
        let size = d.body.utf8.count
        guard size <= settings.maxNoteBytes else { throw TrailError.noteTooLarge(size: size, limit: settings.maxNoteBytes) }
        let decay = settings.decay

        var afterRows: [NoteRow] = []
        for prefix in d.after {
            guard !d.id.hex.hasPrefix(prefix.hex) else {
                throw TrailError.invalidParams(field: "after", message: "A note cannot come after itself; name the notes you came from.")
            }
            let row = try hotNote(prefix, ns: d.ns, settings: settings)
            if !afterRows.contains(where: { $0.seq == row.seq }) { afterRows.append(row) }
        }
        // A new note, the common case, is inserted at once: the unique id
        // index tells whether the note is already there (hot or archived) in
        // the descent the insert makes anyway, where a lookup first cost a
        // second descent of that random-order index.
        let key = decay.key(weight: d.strength, at: now)
        let tags = d.tags.joined(separator: " ")
        let after = afterRows.map(\.id).joined(separator: " ")
        try db.execute(sql: """
            INSERT INTO note (ns, id, body, tags, after, key, state, deposits, agent, created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, 0, 1, ?, ?, ?) ON CONFLICT (ns, id) DO NOTHING
            """, binding: [.text(d.ns), .text(d.id.hex), .utf8Blob(d.body), .text(tags), .text(after), .double(key),
                           .text(writer.agent), .int(nowMillis), .int(nowMillis)])
        let created = db.changesCount > 0
        var row: NoteRow
        if created {
            let seq = db.lastInsertedRowID
            try db.execute(sql: "INSERT INTO note_text(rowid, ns, body) VALUES (?, ?, ?)", binding: [.int(seq), .text(d.ns), .text(d.body)])
            row = NoteRow(inserted: seq, id: d.id.hex, body: d.body, tags: tags, after: after, key: key,
                          agent: writer.agent, at: nowMillis)
        } else {
            var existing: NoteRow
            switch try Self.byID(db, id: d.id.hex, ns: d.ns) {
            case let .archived(entry)?:
                // Depositing an evaporated body brings it back, then adds the strength.
                existing = try unarchive(entry, settings: settings, weight: entry.weight(at: now, decay: settings.decay))
            case let .hot(found)?: existing = found
            case nil: throw TrailError.internal("note \(d.id.hex) is in the id index but not found")
            }
            if existing.state == .retracted && !d.force {
                throw TrailError.retracted(id: existing.id, retraction: existing.retraction
                    ?? Retraction(reason: "", agent: nil, atMillis: existing.updatedAt))
            }
            existing.key = decay.reinforced(key: existing.key, by: d.strength, at: now)
            existing.deposits += 1
            existing.tags = Set(existing.tagList + d.tags).sorted().joined(separator: " ")
            var after = existing.afterList
            for a in afterRows where !after.contains(a.id) { after.append(a.id) }
            existing.after = after.joined(separator: " ")
            existing.state = .live
            existing.retractionReason = nil
            existing.retractionAgent = nil
            existing.retractedAt = nil
            existing.updatedAt = nowMillis
            try db.run(sql: """
                UPDATE note SET key = ?, deposits = ?, tags = ?, after = ?, state = 0, updated_at = ?,
                    retraction_reason = NULL, retraction_agent = NULL, retracted_at = NULL
                WHERE seq = ?
                """, arguments: [existing.key, existing.deposits, existing.tags, existing.after, nowMillis, existing.seq])
            row = existing
        }
        for tag in d.tags {
            try db.run(sql: "INSERT OR IGNORE INTO note_tag (ns, tag, note) VALUES (?, ?, ?)", arguments: [d.ns, tag, row.seq])
        }
        for a in afterRows {
            _ = try walkTrail(from: a.seq, to: row.seq, ns: d.ns, decay: decay, delta: d.strength)
        }
        try log(ns: d.ns, op: created ? "deposit" : "redeposit", note: row.seq, delta: d.strength,
                detail: d.force ? "force" : nil)
        return .deposited(note: row.note(ns: settings, at: now), created: created)
    }

    // MARK: reinforce, link

    private func reinforce(_ id: IDPrefix, ns: String, delta: Double) throws -> WriteOutcome {
        let settings = try Self.requireNamespace(db, ns, id: id)
        var row = try hotNote(id, ns: ns, settings: settings)
        try Self.refuseRetracted(row)
        row.key = settings.decay.reinforced(key: row.key, by: delta, at: now)
        row.updatedAt = nowMillis
        // A note set aside for evaporation is live again once used.
        if row.state == .evaporating { row.state = .live }
        try db.execute(sql: "UPDATE note SET key = ?, state = ?, updated_at = ? WHERE seq = ?",
                       binding: [.double(row.key), .int(row.state.rawValue), .int(nowMillis), .int(row.seq)])
        try log(ns: ns, op: "reinforce", note: row.seq, delta: delta)
        return .reinforced(note: row.note(ns: settings, at: now))
    }

    private func link(_ from: IDPrefix, _ to: IDPrefix, ns: String, delta: Double) throws -> WriteOutcome {
        let settings = try Self.requireNamespace(db, ns, id: from)
        let src = try hotNote(from, ns: ns, settings: settings)
        let dst = try hotNote(to, ns: ns, settings: settings)
        guard src.seq != dst.seq else {
            throw TrailError.invalidParams(field: "to", message: "A trail joins two different notes; give another note as to.")
        }
        try Self.refuseRetracted(src)
        try Self.refuseRetracted(dst)
        let weight = try walkTrail(from: src.seq, to: dst.seq, ns: ns, decay: settings.decay, delta: delta)
        try log(ns: ns, op: "link", note: dst.seq, other: src.seq, delta: delta)
        return .linked(from: NoteID(trustedHex: src.id), to: dst.note(ns: settings, at: now), weight: weight)
    }

    /// Adds `delta` to the trail `from -> to` (creating it), floor 0; returns its new weight.
    private func walkTrail(from: Int64, to: Int64, ns: String, decay: ForwardDecay, delta: Double) throws -> Double {
        let old = try db.double(sql: "SELECT key FROM edge WHERE src = ? AND dst = ?", arguments: [from, to])
        let key = old.map { decay.reinforced(key: $0, by: delta, at: now) } ?? decay.key(weight: max(0, delta), at: now)
        try db.run(sql: """
            INSERT INTO edge (src, dst, ns, key, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (src, dst) DO UPDATE SET key = excluded.key, updated_at = excluded.updated_at
            """, arguments: [from, to, ns, key, nowMillis, nowMillis])
        return decay.weight(key: key, at: now)
    }

    // MARK: retract, revive

    private func retract(_ id: IDPrefix, ns: String, reason: String) throws -> WriteOutcome {
        let settings = try Self.requireNamespace(db, ns, id: id)
        var row = try hotNote(id, ns: ns, settings: settings)
        row.state = .retracted
        row.retractionReason = reason
        row.retractionAgent = writer.agent
        row.retractedAt = nowMillis
        row.updatedAt = nowMillis
        try db.run(sql: """
            UPDATE note SET state = 1, retraction_reason = ?, retraction_agent = ?, retracted_at = ?, updated_at = ?
            WHERE seq = ?
            """, arguments: [reason, writer.agent, nowMillis, nowMillis, row.seq])
        try log(ns: ns, op: "retract", note: row.seq, detail: reason)
        return .retracted(note: row.note(ns: settings, at: now))
    }

    private func revive(_ id: IDPrefix, ns: String) throws -> WriteOutcome {
        let settings = try Self.requireNamespace(db, ns, id: id)
        var row: NoteRow
        switch try Self.locate(db, id, ns: ns) {
        case let .hot(hot): row = hot
        case let .archived(entry):
            // An evaporated note comes back with its decayed weight, or 1.0
            // (a fresh deposit's) if that is more, so it is live again.
            row = try unarchive(entry, settings: settings, weight: max(entry.weight(at: now, decay: settings.decay), 1.0))
        }
        if row.state == .retracted {
            // The weight comes back as it would be had the note never been
            // retracted; the retraction stays on record in the write log.
            row.state = .live
            row.retractionReason = nil
            row.retractionAgent = nil
            row.retractedAt = nil
            row.updatedAt = nowMillis
            try db.run(sql: """
                UPDATE note SET state = 0, retraction_reason = NULL, retraction_agent = NULL, retracted_at = NULL,
                    updated_at = ? WHERE seq = ?
                """, arguments: [nowMillis, row.seq])
        }
        try log(ns: ns, op: "revive", note: row.seq)
        return .revived(note: row.note(ns: settings, at: now))
    }

    // MARK: restore

    /// Sets each note to its record (a restore, so running it twice changes
    /// nothing), then its trails. Runs inside one savepoint: a record that
    /// cannot be restored undoes the whole import.
    private func restore(ns: String, records: [NoteRecord]) throws -> RestoreReport {
        let settings = try Self.namespace(db, ns, creatingAt: now)
        let decay = settings.decay
        var created = 0
        var seqs: [String: Int64] = [:]
        for (i, record) in records.enumerated() {
            let n = record.note
            let size = n.body.utf8.count
            guard size <= settings.maxNoteBytes else {
                throw TrailError.invalidParams(field: "records[\(i)].body", message: "records[\(i)] is \(size) bytes but namespace \(ns) takes at most \(settings.maxNoteBytes); raise its max_note_bytes first.")
            }
            let key = decay.key(weight: n.weight, at: now)
            // Archived records are written hot, then archived below with their trails.
            let state: StoredState = n.state == .retracted ? .retracted : .live
            let tags = n.tags.joined(separator: " ")
            let after = n.after.map(\.hex).joined(separator: " ")
            let r = n.retraction
            let seq: Int64
            let found: NoteRow?
            switch try Self.byID(db, id: n.id.hex, ns: ns) {
            case let .archived(entry)?: found = try unarchive(entry, settings: settings, weight: n.weight)
            case let .hot(row)?: found = row
            case nil: found = nil
            }
            if let existing = found {
                seq = existing.seq
                try db.run(sql: """
                    UPDATE note SET tags = ?, after = ?, key = ?, state = ?, deposits = ?, agent = ?, rank = ?,
                        created_at = ?, updated_at = ?, retraction_reason = ?, retraction_agent = ?, retracted_at = ?
                    WHERE seq = ?
                    """, arguments: [tags, after, key, state.rawValue, n.deposits, n.agent, n.rank, n.createdAtMillis,
                                     n.updatedAtMillis, r?.reason, r?.agent, r?.atMillis, seq])
                try db.run(sql: "DELETE FROM note_tag WHERE note = ?", arguments: [seq])
            } else {
                created += 1
                try db.run(sql: """
                    INSERT INTO note (ns, id, body, tags, after, key, state, deposits, agent, rank, created_at, updated_at,
                        retraction_reason, retraction_agent, retracted_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [ns, n.id.hex, Data(n.body.utf8), tags, after, key, state.rawValue, n.deposits, n.agent,
                                     n.rank, n.createdAtMillis, n.updatedAtMillis, r?.reason, r?.agent, r?.atMillis])
                seq = db.lastInsertedRowID
                try db.run(sql: "INSERT INTO note_text(rowid, ns, body) VALUES (?, ?, ?)", arguments: [seq, ns, n.body])
            }
            for tag in n.tags {
                try db.run(sql: "INSERT OR IGNORE INTO note_tag (ns, tag, note) VALUES (?, ?, ?)", arguments: [ns, tag, seq])
            }
            seqs[n.id.hex] = seq
            try log(ns: ns, op: "import", note: seq)
        }
        var trails = 0
        for (i, record) in records.enumerated() {
            let src = seqs[record.note.id.hex]!
            for (j, end) in record.trails.enumerated() {
                var dst = seqs[end.to.hex]
                if dst == nil { dst = try Self.find(db, id: end.to.hex, ns: ns)?.seq }
                guard let dst else {
                    throw TrailError.invalidParams(field: "records[\(i)].trails[\(j)]", message: "records[\(i)].trails[\(j)] leads to \(end.to.hex), which is neither in the import nor in namespace \(ns); import the whole export file.")
                }
                try db.run(sql: """
                    INSERT INTO edge (src, dst, ns, key, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (src, dst) DO UPDATE SET key = excluded.key, updated_at = excluded.updated_at
                    """, arguments: [src, dst, ns, decay.key(weight: end.weight, at: now), nowMillis, nowMillis])
                trails += 1
            }
        }
        let toArchive = try records.filter { $0.note.state == .archived }.compactMap { try Self.find(db, id: $0.note.id.hex, ns: ns) }
        _ = try archive(toArchive, settings: settings)
        return RestoreReport(ns: ns, notes: records.count, created: created, trails: trails)
    }

    // MARK: namespaces

    private func configure(_ change: NamespaceChange) throws -> NamespaceSettings {
        var settings = try Self.namespace(db, change.ns, creatingAt: now)
        if let h = change.halfLife, h != settings.halfLife {
            // Keep every current weight: move the landmark to now and rewrite
            // each key as log2(weight now), then switch to the new half-life.
            try Self.rebase(db, settings, to: now)
            settings.landmark = now
            settings.halfLife = h
        }
        if let e = change.evaporateBelow { settings.evaporateBelow = e }
        if let m = change.maxNoteBytes { settings.maxNoteBytes = m }
        try db.run(sql: """
            UPDATE namespace SET half_life_s = ?, evaporate_below = ?, max_note_bytes = ?, landmark = ? WHERE name = ?
            """, arguments: [settings.halfLife, settings.evaporateBelow, settings.maxNoteBytes, settings.landmark, settings.name])
        try log(ns: change.ns, op: "configure",
                detail: "half_life_s=\(settings.halfLife) evaporate_below=\(settings.evaporateBelow) max_note_bytes=\(settings.maxNoteBytes)")
        return settings
    }

    /// Rewrites every key of a namespace against the landmark `now`; weights
    /// are unchanged. This is `ForwardDecay.rebased(key:to:)` run in SQL, so
    /// that one statement moves every row (zero-weight keys stay as they are).
    static func rebase(_ db: Database, _ settings: NamespaceSettings, to now: Double) throws {
        let shift = settings.decay.offset(at: now)
        try db.run(sql: "UPDATE note SET key = key - ? WHERE ns = ? AND key > -1e300", arguments: [shift, settings.name])
        try db.run(sql: "UPDATE edge SET key = key - ? WHERE ns = ? AND key > -1e300", arguments: [shift, settings.name])
        try db.run(sql: "UPDATE namespace SET landmark = ? WHERE name = ?", arguments: [now, settings.name])
    }

    func log(ns: String, op: String, note: Int64? = nil, other: Int64? = nil, delta: Double? = nil,
                     detail: String? = nil) throws {
        try db.execute(sql: """
            INSERT INTO write_log (at, ns, op, note, other, delta, detail, agent, uid, pid)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, binding: [.int(nowMillis), .text(ns), .text(op), .int(note), .int(other), .double(delta), .text(detail),
                           .text(writer.agent), .int(writer.uid.map { Int64($0) }), .int(writer.pid.map { Int64($0) })])
    }

    // MARK: lookups shared with the readers

    static func existingNamespace(_ db: Database, _ name: String) throws -> NamespaceSettings? {
        var settings: NamespaceSettings?
        try db.forEachRow(sql: "SELECT name, half_life_s, evaporate_below, max_note_bytes, landmark FROM namespace WHERE name = ?",
                          binding: [.text(name)]) { s in
            settings = NamespaceSettings(name: RawColumn.text(s, 0), halfLife: RawColumn.double(s, 1), evaporateBelow: RawColumn.double(s, 2),
                                         maxNoteBytes: Int(RawColumn.int64(s, 3)), landmark: RawColumn.double(s, 4))
        }
        return settings
    }

    /// The namespace's settings, creating it with the defaults (landmark now) if new.
    @discardableResult
    static func namespace(_ db: Database, _ name: String, creatingAt now: Double) throws -> NamespaceSettings {
        if let settings = try existingNamespace(db, name) { return settings }
        let settings = NamespaceSettings(name: name, landmark: now)
        try db.run(sql: """
            INSERT INTO namespace (name, half_life_s, evaporate_below, max_note_bytes, landmark, created_at)
            VALUES (?, ?, ?, ?, ?, ?)
            """, arguments: [name, settings.halfLife, settings.evaporateBelow, settings.maxNoteBytes, now, Timestamp.millis(now)])
        return settings
    }

    static func requireNamespace(_ db: Database, _ name: String, id: IDPrefix) throws -> NamespaceSettings {
        guard let settings = try existingNamespace(db, name) else { throw TrailError.unknownNote(id: id.hex, ns: name) }
        return settings
    }

    static func find(_ db: Database, id: String, ns: String) throws -> NoteRow? {
        if case let .hot(row)? = try byID(db, id: id, ns: ns) { return row }
        return nil
    }

    static func refuseRetracted(_ row: NoteRow) throws {
        if row.state == .retracted, let retraction = row.retraction {
            throw TrailError.retracted(id: row.id, retraction: retraction)
        }
    }
}
