import TrailStore
import GRDB

/// The SQLite schema as numbered migrations. A shipped migration is never
/// edited: change the schema by adding the next one.
enum SQLiteSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1 notes, trails, namespaces, write log") { db in
            try db.execute(sql: """
                CREATE TABLE namespace (
                    name TEXT PRIMARY KEY,
                    half_life_s REAL NOT NULL,
                    evaporate_below REAL NOT NULL,
                    max_note_bytes INTEGER NOT NULL,
                    landmark REAL NOT NULL,         -- L of the forward decay, seconds since 1970
                    created_at INTEGER NOT NULL     -- ms since 1970
                ) STRICT;

                -- key = log2(weight) + (t - L) / h  (see ForwardDecay); state: 0 live, 1 retracted, 2 archived.
                -- tags and after are space-separated (neither can contain a space).
                -- body is a BLOB of the UTF-8 bytes as received: TEXT would cut it at a U+0000.
                CREATE TABLE note (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: an archived note comes back with its seq
                    ns TEXT NOT NULL,
                    id TEXT NOT NULL,
                    body BLOB NOT NULL,
                    tags TEXT NOT NULL,
                    after TEXT NOT NULL,
                    key REAL NOT NULL,
                    state INTEGER NOT NULL,
                    deposits INTEGER NOT NULL,
                    agent TEXT,
                    rank REAL,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL,
                    retraction_reason TEXT,
                    retraction_agent TEXT,
                    retracted_at INTEGER
                ) STRICT;
                CREATE UNIQUE INDEX note_by_id ON note(ns, id);
                -- ORDER BY key DESC, id on this index is ORDER BY current weight: sense never scans.
                CREATE INDEX note_by_key ON note(ns, state, key DESC, id);

                CREATE TABLE note_tag (
                    ns TEXT NOT NULL,
                    tag TEXT NOT NULL,
                    note INTEGER NOT NULL,
                    PRIMARY KEY (ns, tag, note)
                ) STRICT, WITHOUT ROWID;
                CREATE INDEX note_tag_by_note ON note_tag(note);

                -- A trail src -> dst; key as for notes, in the namespace's decay.
                CREATE TABLE edge (
                    src INTEGER NOT NULL,
                    dst INTEGER NOT NULL,
                    ns TEXT NOT NULL,
                    key REAL NOT NULL,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL,
                    PRIMARY KEY (src, dst)
                ) STRICT, WITHOUT ROWID;
                CREATE INDEX edge_by_dst ON edge(dst, src);
                CREATE INDEX edge_by_ns ON edge(ns, key);

                -- Every write, who made it (agent, peer uid and pid) and when.
                CREATE TABLE write_log (
                    seq INTEGER PRIMARY KEY,
                    at INTEGER NOT NULL,
                    ns TEXT NOT NULL,
                    op TEXT NOT NULL,
                    note INTEGER,
                    other INTEGER,
                    delta REAL,
                    detail TEXT,
                    agent TEXT,
                    uid INTEGER,
                    pid INTEGER
                ) STRICT;
                CREATE INDEX write_log_by_note ON write_log(note);

                -- Archive packs: zstd files under the data dir that hold evaporated notes.
                -- A pack file that no row names is an orphan of a crash and is removed.
                CREATE TABLE pack (
                    name TEXT PRIMARY KEY,
                    ns TEXT NOT NULL,
                    notes INTEGER NOT NULL,
                    raw_bytes INTEGER NOT NULL,
                    packed_bytes INTEGER NOT NULL,
                    created_at INTEGER NOT NULL
                ) STRICT;

                -- Where each archived note is: the zstd frame (offset, length) of its pack
                -- that holds its record, and its weight when it was archived.
                CREATE TABLE archive (
                    ns TEXT NOT NULL,
                    id TEXT NOT NULL,
                    seq INTEGER NOT NULL,
                    pack TEXT NOT NULL REFERENCES pack(name),
                    offset INTEGER NOT NULL,
                    length INTEGER NOT NULL,
                    weight REAL NOT NULL,
                    archived_at REAL NOT NULL,
                    PRIMARY KEY (ns, id)
                ) STRICT, WITHOUT ROWID;
                CREATE INDEX archive_by_pack ON archive(pack);
                CREATE INDEX archive_by_seq ON archive(ns, seq);

                -- Evaporated notes whose full-text entry is still in note_text (searches
                -- join on note, so they never match); the index is rebuilt when they pile up.
                CREATE TABLE text_left_behind (seq INTEGER PRIMARY KEY) STRICT;

                -- One row per compaction run and namespace.
                CREATE TABLE compaction (
                    seq INTEGER PRIMARY KEY,
                    ns TEXT NOT NULL,
                    started_at INTEGER NOT NULL,
                    duration_ms INTEGER NOT NULL,
                    evaporated INTEGER NOT NULL,
                    archived_bytes INTEGER NOT NULL,
                    ranked INTEGER NOT NULL,
                    rebased INTEGER NOT NULL
                ) STRICT;

                -- ns is indexed too, so a search asks the index for one namespace's
                -- matches only (its bm25 weight is 0: it never counts as relevance).
                CREATE VIRTUAL TABLE note_text USING fts5(
                    ns, body, content='note', content_rowid='seq',
                    tokenize='porter unicode61 remove_diacritics 2'
                );
                -- rank is bm25 over the body alone.
                INSERT INTO note_text(note_text, rank) VALUES ('rank', 'bm25(0.0, 1.0)');
                """)
        }
        migrator.registerMigration("v2 archived notes stay as slim rows") { db in
            // Evaporation used to delete a note's rows and add an `archive` row
            // keyed by its random id: two B-trees in random order, a page
            // written per note. An archived note now keeps its row in place
            // (state 2), its body, tags and trails moved to the pack, with the
            // pack location in four new columns; the key index leaves archived
            // rows out, so the hot indexes lose an entry and gain none.
            try db.execute(sql: """
                ALTER TABLE note ADD COLUMN pack INTEGER;         -- rowid of the pack holding an archived note's record
                ALTER TABLE note ADD COLUMN pack_offset INTEGER;  -- its zstd frame in that pack
                ALTER TABLE note ADD COLUMN pack_length INTEGER;
                ALTER TABLE note ADD COLUMN archived_at REAL;     -- seconds since 1970
                -- Archived notes of the pack brought back since: a pack whose every note is back is dropped.
                ALTER TABLE pack ADD COLUMN revived INTEGER NOT NULL DEFAULT 0;
                -- 1 while a bulk evaporation has left trails of archived notes in edge (they are in
                -- the packs; readers skip them), to be dropped in one pass at its end.
                ALTER TABLE namespace ADD COLUMN dead_trails INTEGER NOT NULL DEFAULT 0;

                -- An archived row's key goes on decaying like any other (a rebase moves it too):
                -- key = log2(weight then) + (then - L) / h.
                INSERT INTO note (seq, ns, id, body, tags, after, key, state, deposits, created_at, updated_at,
                                  pack, pack_offset, pack_length, archived_at)
                SELECT a.seq, a.ns, a.id, x'', '', '',
                       CASE WHEN a.weight > 0 THEN log2(a.weight) + (a.archived_at - s.landmark) / s.half_life_s ELSE -1e308 END,
                       2, 0, 0, 0, p.rowid, a.offset, a.length, a.archived_at
                FROM archive a JOIN pack p ON p.name = a.pack JOIN namespace s ON s.name = a.ns;
                UPDATE pack SET revived = notes - (SELECT count(*) FROM archive a WHERE a.pack = pack.name);
                DROP TABLE archive;

                DROP INDEX note_by_key;
                CREATE INDEX note_by_key ON note(ns, state, key DESC, id) WHERE state = 0 OR state = 1;
                -- state 3: faded and chosen for a bulk evaporation that has not reached it yet (it
                -- still has its body; any write to it makes it live again). Out of note_by_key.
                CREATE INDEX note_evaporating ON note(ns, seq) WHERE state = 3;
                -- The trails into a note with their keys, without a lookup in edge for each.
                DROP INDEX edge_by_dst;
                CREATE INDEX edge_by_dst ON edge(dst, src, key);
                """)
        }
        migrator.registerMigration("v3 note vectors") { db in
            try db.execute(sql: """
                -- A note's embedding (recall by meaning): the unit vector of its body by `model`,
                -- little-endian float32. It stays while the note is archived, so a revival finds it
                -- again; stamp orders vectors as stored (storing one again moves it to the end).
                CREATE TABLE note_vector (
                    note INTEGER PRIMARY KEY,   -- note.seq
                    model TEXT NOT NULL,
                    stamp INTEGER NOT NULL,
                    vector BLOB NOT NULL
                ) STRICT;
                CREATE INDEX note_vector_by_stamp ON note_vector(stamp);
                """)
        }
        migrator.registerMigration("v4 what a full-text match needs of a note, by seq") { db in
            try db.execute(sql: """
                -- A words sense looks up each match's namespace, state, key and rank (its
                -- score): here about 36 bytes an entry (36 MiB at 1M notes) where the note row is
                -- 200, so the lookups stay in a reader's page cache instead of reading the note
                -- table page by page; only the page's notes are then read whole.
                CREATE INDEX note_match_key ON note(seq, ns, state, key, rank);
                """)
        }
        migrator.registerMigration("v5 contested notes") { db in
            try db.execute(sql: """
                -- How close two notes that disagree on a decisive token must be to contest each other (§8).
                ALTER TABLE namespace ADD COLUMN contest_similarity REAL NOT NULL DEFAULT 0.9;

                -- Two notes that contest each other, found when one was embedded: a < b (note.seq).
                -- A row stays while either note is retracted, archived or repelled to zero (the
                -- contest is over while it is: readers show only contests of two live notes).
                CREATE TABLE contest (
                    a INTEGER NOT NULL,
                    b INTEGER NOT NULL,
                    ns TEXT NOT NULL,
                    similarity REAL NOT NULL,
                    created_at INTEGER NOT NULL,   -- ms since 1970
                    PRIMARY KEY (a, b)
                ) STRICT, WITHOUT ROWID;
                CREATE INDEX contest_by_b ON contest(b, a);
                """)
        }
        migrator.registerMigration("v6 the store's write epoch") { db in
            try db.execute(sql: """
                -- Moved on by one in every write transaction of the group commit, whatever
                -- process makes it: traild's copy in memory of what a full-text sense ranks
                -- by (NoteKeyMirror) answers a read only when it is at the read's epoch.
                CREATE TABLE note_epoch (
                    one INTEGER PRIMARY KEY CHECK (one = 1),
                    n INTEGER NOT NULL
                ) STRICT;
                INSERT INTO note_epoch (one, n) VALUES (1, 0);
                """)
        }
        return migrator
    }
}
