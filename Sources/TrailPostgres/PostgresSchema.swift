/// The PostgreSQL schema as numbered migrations, applied by `Migrations`. A
/// shipped migration is never edited: change the schema by adding the next.
///
/// It mirrors the SQLite schema (docs/decisions.md says where it differs):
/// forward-decay keys with an index that answers `sense` by weight without a
/// scan, the body's words in a `tsvector` with a GIN index, tags, trails, the
/// write log, archived notes as zstd frames in `bytea` rows so that every
/// daemon can read and revive them, and (since migration 2) the notes' embeddings.
enum PostgresSchema {
    static let migrations: [(version: Int, name: String, sql: String)] = [
        (1, "notes, trails, namespaces, write log, archive blocks", """
            CREATE TABLE namespace (
                name text PRIMARY KEY,
                half_life_s double precision NOT NULL,
                evaporate_below double precision NOT NULL,
                max_note_bytes integer NOT NULL,
                landmark double precision NOT NULL,   -- L of the forward decay, seconds since 1970 (the database's clock)
                created_at bigint NOT NULL,           -- ms since 1970
                dead_trails boolean NOT NULL DEFAULT false
            );

            -- Archived records, as ArchiveFrames writes them: each row one zstd frame of NDJSON records.
            CREATE TABLE archive_block (
                seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                ns text NOT NULL,
                frame bytea NOT NULL,
                notes integer NOT NULL,
                raw_bytes bigint NOT NULL,
                packed_bytes bigint NOT NULL,
                revived integer NOT NULL DEFAULT 0,   -- notes of the block brought back since: a block all back is dropped
                created_at bigint NOT NULL
            );
            CREATE INDEX archive_block_by_ns ON archive_block (ns);

            -- key = log2(weight) + (t - L) / h  (see ForwardDecay); state: 0 live, 1 retracted, 2 archived, 3 set aside
            -- for evaporation. tags and after are space-separated (neither can contain a space). body is bytea, the
            -- UTF-8 bytes as received: text cannot hold U+0000. words is the body's full text (NULL once archived).
            CREATE TABLE note (
                seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- never reused: an archived note comes back with its seq
                ns text NOT NULL,
                id text COLLATE "C" NOT NULL,
                body bytea NOT NULL,
                words tsvector,
                tags text NOT NULL,
                after text NOT NULL,
                key double precision NOT NULL,
                state smallint NOT NULL,
                deposits bigint NOT NULL,
                agent text,
                rank double precision,
                created_at bigint NOT NULL,
                updated_at bigint NOT NULL,
                retraction_reason text,
                retraction_agent text,
                retracted_at bigint,
                block bigint REFERENCES archive_block (seq),  -- archived: the block holding its record
                archived_at double precision                  -- archived: when, seconds since 1970
            );
            CREATE UNIQUE INDEX note_by_id ON note (ns, id);
            -- ORDER BY key DESC, id on this index is ORDER BY current weight: sense never scans.
            CREATE INDEX note_by_key ON note (ns, state, key DESC, id) WHERE state IN (0, 1);
            CREATE INDEX note_evaporating ON note (ns, seq) WHERE state = 3;
            CREATE INDEX note_by_block ON note (block) WHERE block IS NOT NULL;
            CREATE INDEX note_words ON note USING gin (words);

            CREATE TABLE note_tag (
                ns text NOT NULL,
                tag text NOT NULL,
                note bigint NOT NULL,
                PRIMARY KEY (ns, tag, note)
            );
            CREATE INDEX note_tag_by_note ON note_tag (note);

            -- A trail src -> dst; key as for notes, in the namespace's decay.
            CREATE TABLE edge (
                src bigint NOT NULL,
                dst bigint NOT NULL,
                ns text NOT NULL,
                key double precision NOT NULL,
                created_at bigint NOT NULL,
                updated_at bigint NOT NULL,
                PRIMARY KEY (src, dst)
            );
            CREATE INDEX edge_by_dst ON edge (dst, src, key);
            CREATE INDEX edge_by_ns ON edge (ns, key);

            -- Every write, who made it (agent, peer uid and pid, which daemon) and when.
            CREATE TABLE write_log (
                seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                at bigint NOT NULL,
                ns text NOT NULL,
                op text NOT NULL,
                note bigint,
                other bigint,
                delta double precision,
                detail text,
                agent text,
                uid bigint,
                pid bigint,
                daemon text
            );
            CREATE INDEX write_log_by_note ON write_log (note);
            CREATE INDEX write_log_by_other ON write_log (other) WHERE other IS NOT NULL;

            -- One row per compaction run and namespace.
            CREATE TABLE compaction (
                seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                ns text NOT NULL,
                started_at bigint NOT NULL,
                duration_ms bigint NOT NULL,
                evaporated bigint NOT NULL,
                archived_bytes bigint NOT NULL,
                ranked bigint NOT NULL,
                rebased boolean NOT NULL
            );
            CREATE INDEX compaction_by_ns ON compaction (ns, seq);
            """),
        (2, "note vectors for recall by meaning", """
            -- Each note's embedding (contract §8): little-endian float32s (VectorBytes), of the model named.
            -- One row per note, kept while the note is archived (its seq comes back with it) and
            -- dropped with the note row. stamp orders the rows as they were stored, so that a daemon's
            -- index takes in what others store: storing a vector again gives it the next stamp.
            CREATE SEQUENCE note_vector_stamp AS bigint;
            CREATE TABLE note_vector (
                note bigint PRIMARY KEY REFERENCES note (seq) ON DELETE CASCADE,
                model text NOT NULL,
                stamp bigint NOT NULL,
                vector bytea NOT NULL
            );
            CREATE INDEX note_vector_by_stamp ON note_vector (model, stamp);
            """),
        (3, "contested notes", """
            -- How close two notes that disagree on a decisive token must be to contest each other (§8).
            ALTER TABLE namespace ADD COLUMN contest_similarity double precision NOT NULL DEFAULT 0.9;
            -- Two notes that contest each other, found when one was embedded: a < b (note.seq). A row
            -- stays while either note is retracted, archived or repelled to zero (the contest is over
            -- while it is: readers show only contests of two live notes).
            CREATE TABLE contest (
                a bigint NOT NULL REFERENCES note (seq) ON DELETE CASCADE,
                b bigint NOT NULL REFERENCES note (seq) ON DELETE CASCADE,
                ns text NOT NULL,
                similarity double precision NOT NULL,
                created_at bigint NOT NULL,
                PRIMARY KEY (a, b)
            );
            CREATE INDEX contest_by_b ON contest (b, a);
            """),
        (4, "namespaces with contests", """
            -- Every daemon asks each second which namespaces hold contests: one probe per namespace.
            CREATE INDEX contest_by_ns ON contest (ns);
            """),
    ]
}
