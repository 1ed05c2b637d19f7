import NIOCore
import PostgresNIO
import TrailCore
import TrailStore

/// How a group's new notes are inserted: in one statement for the whole
/// group, where one `INSERT` per deposit cost a round trip each (five
/// times the rate, measured with the engine's own statements). `NoteWrites`
/// still does every deposit in order; its `insert` finds the row this batch
/// made (`TransactionState.claim`).
///
/// Only deposits whose outcome cannot depend on the writes before them in
/// the group are inserted ahead: no `after` (its notes are looked up by the
/// deposit), a namespace that exists (read here `FOR SHARE`, with the
/// group's instant), a body within its size limit, and an id that no earlier
/// write of the group names (a `reinforce` of the note before its deposit
/// must still find nothing). A `merge` is never inserted ahead (it may land
/// on another note) and names its own id. A group with a `configure` or
/// `rebase` (which change the limit or the landmark mid-group) goes the
/// plain way.
struct DepositBatch {
    /// The group's instant, read with the namespaces.
    let now: Double

    /// Inserts the group's eligible new notes; nil when the group has none
    /// (the caller reads the clock itself then).
    static func insert(_ group: [PendingWrite], db: any StatementRunner, state: TransactionState) throws -> DepositBatch? {
        var named: [String] = []          // id prefixes the writes so far name
        var candidates: [(index: Int, deposit: Deposit)] = []
        for (i, pending) in group.enumerated() {
            switch pending.write {
            case let .deposit(d):
                if d.after.isEmpty && !named.contains(where: { d.id.hex.hasPrefix($0) }) {
                    candidates.append((i, d))
                }
                named += d.after.map(\.hex)
            case let .reinforce(id, _, _), let .retract(id, _, _), let .revive(id, _):
                named.append(id.hex)
            case let .link(from, to, _, _):
                named += [from.hex, to.hex]
            case let .merge(d, into, _):
                // Not inserted ahead: whether it merges depends on its body
                // not being a note yet, which a later deposit of that body
                // inserted ahead would change.
                named += [d.id.hex, into.hex] + d.after.map(\.hex)
            case .configure, .rebase:
                return nil
            case .restore, .markEvaporating, .evaporate, .dropDeadTrails, .sweepPacks, .setRanks, .recordCompaction, .maintainText,
                 .storeVectors, .recordContests:
                break
            }
        }
        guard !candidates.isEmpty else { return nil }
        let names = Array(Set(candidates.map(\.deposit.ns)))
        let rows = try db.rows("""
            SELECT extract(epoch FROM clock_timestamp())::float8, s.*
            FROM (SELECT 1) one LEFT JOIN LATERAL (
                SELECT \(unescaped: NamespaceSettings.postgresColumns) FROM namespace WHERE name = ANY(\(names)::text[]) FOR SHARE) s ON true
            """)
        let now = try rows[0][0].decode(Double.self)
        for row in rows where try row[1].decode(String?.self) != nil {
            let settings = try NamespaceSettings(postgres: row, at: 1)
            state.namespaces[settings.name] = settings
        }
        var ns: [String] = [], ids: [String] = [], bodies: [ByteBuffer] = [], texts: [String] = []
        var tags: [String] = [], keys: [Double] = [], agents: [String] = []
        var seen = Set<String>()
        for (index, d) in candidates {
            guard let settings = state.namespaces[d.ns], d.body.utf8.count <= settings.maxNoteBytes,
                  seen.insert(TransactionState.key(ns: d.ns, id: d.id.hex)).inserted else { continue }
            ns.append(d.ns)
            ids.append(d.id.hex)
            bodies.append(ByteBuffer(string: d.body))
            texts.append(SearchText.of(d.body))
            tags.append(d.tags.joined(separator: " "))
            keys.append(settings.decay.key(weight: d.strength, at: now))
            // An agent is never empty (Validate.printable), so "" stands for none.
            agents.append(group[index].writer.agent ?? "")
        }
        guard !ids.isEmpty else { return DepositBatch(now: now) }
        let millis = Timestamp.millis(now)
        let inserted = try db.rows("""
            INSERT INTO note (ns, id, body, words, tags, after, key, state, deposits, agent, created_at, updated_at)
            SELECT d.ns, d.id, d.body, to_tsvector('english', d.text), d.tags, '', d.key, 0, 1, NULLIF(d.agent, ''), \(millis), \(millis)
            FROM unnest(\(ns)::text[], \(ids)::text[], \(bodies)::bytea[], \(texts)::text[], \(tags)::text[], \(keys)::float8[],
                        \(agents)::text[]) AS d(ns, id, body, text, tags, key, agent)
            ON CONFLICT (ns, id) DO NOTHING RETURNING ns, id, seq
            """)
        for row in inserted {
            state.prepared[TransactionState.key(ns: try row[0].decode(String.self), id: try row[1].decode(String.self))] = try row[2].decode(Int64.self)
        }
        state.batched = seen
        return DepositBatch(now: now)
    }
}
