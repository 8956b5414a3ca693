import GRDB

/// The labeler's SQLite database (WAL mode): stream cursors now; labels, history and counters as
/// they arrive. Schema changes are named, append-only migrations, so every earlier database opens.
public final class LabelStore: Sendable {
    public let path: String
    let pool: DatabasePool

    public struct Error: Swift.Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Opens (creating when absent) the database at `path` and migrates it to the current schema.
    public init(path: String) throws(Error) {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            // WAL with synchronous=NORMAL is durable across process crashes (a commit is in the WAL
            // before it returns); only an OS crash can lose the last transactions.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            try Self.migrator.migrate(pool)
        } catch {
            throw Error(description: "\(path): cannot open the database: \(error)")
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1 cursor") { db in
            try db.create(table: "cursor") { t in
                t.primaryKey("source", .text)
                t.column("seq", .integer).notNull()
                t.column("updated_at", .text).notNull()
            }
        }
        migrator.registerMigration("v2 labels") { db in
            try db.execute(
                sql: """
                    CREATE TABLE signing_key (
                        id INTEGER PRIMARY KEY,
                        did_key TEXT NOT NULL UNIQUE,
                        created_at TEXT NOT NULL
                    );
                    -- Current state: one row per (src, uri, cid, val); '' stands for "no cid" so the
                    -- uniqueness holds. A change deletes the row and inserts it again, so it gets a
                    -- fresh seq; AUTOINCREMENT never hands out a seq twice.
                    CREATE TABLE label (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        src TEXT NOT NULL,
                        uri TEXT NOT NULL,
                        cid TEXT NOT NULL DEFAULT '',
                        val TEXT NOT NULL,
                        neg INTEGER NOT NULL CHECK (neg IN (0, 1)),
                        cts TEXT NOT NULL,
                        exp TEXT,
                        sig BLOB NOT NULL,
                        key_id INTEGER NOT NULL REFERENCES signing_key(id),
                        locked INTEGER NOT NULL DEFAULT 0 CHECK (locked IN (0, 1)),
                        UNIQUE (src, uri, cid, val)
                    );
                    CREATE INDEX label_uri ON label(uri);
                    CREATE TABLE label_history (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        seq INTEGER NOT NULL,
                        src TEXT NOT NULL,
                        uri TEXT NOT NULL,
                        cid TEXT NOT NULL DEFAULT '',
                        val TEXT NOT NULL,
                        action TEXT NOT NULL CHECK (action IN ('apply', 'negate')),
                        origin TEXT NOT NULL CHECK (origin IN ('rule', 'manual')),
                        rule_id TEXT,
                        actor TEXT,
                        field TEXT,
                        snippet TEXT,
                        reason TEXT,
                        created_at TEXT NOT NULL
                    );
                    CREATE INDEX label_history_uri ON label_history(uri);
                    """)
        }
        migrator.registerMigration("v3 threshold hits") { db in
            try db.execute(
                sql: """
                    CREATE TABLE threshold_hit (
                        rule_id TEXT NOT NULL,
                        did TEXT NOT NULL,
                        time INTEGER NOT NULL
                    );
                    CREATE INDEX threshold_hit_key ON threshold_hit(rule_id, did, time);
                    """)
        }
        migrator.registerMigration("v4 event seq") { db in
            // The stream event (source name and seq) behind each label's latest change by a rule.
            try db.execute(
                sql: """
                    ALTER TABLE label ADD COLUMN event_source TEXT;
                    ALTER TABLE label ADD COLUMN event_seq INTEGER;
                    """)
        }
        migrator.registerMigration("v5 threshold events") { db in
            // The stream event (source, seq, and the hit's position in it) behind each hit, so an
            // event handled again after a restart neither counts twice nor counts itself.
            try db.execute(
                sql: """
                    ALTER TABLE threshold_hit ADD COLUMN event_source TEXT;
                    ALTER TABLE threshold_hit ADD COLUMN event_seq INTEGER;
                    ALTER TABLE threshold_hit ADD COLUMN ordinal INTEGER;
                    CREATE UNIQUE INDEX threshold_hit_event ON threshold_hit(rule_id, did, event_source, event_seq, ordinal)
                        WHERE event_seq IS NOT NULL;
                    """)
        }
        return migrator
    }

    /// The stored cursor of a source: the seq up to which everything has been processed.
    public func cursor(for source: String) throws(Error) -> Int64? {
        do {
            return try pool.read { db in
                try Int64.fetchOne(db, sql: "SELECT seq FROM cursor WHERE source = ?", arguments: [source])
            }
        } catch {
            throw Error(description: "reading the cursor: \(error)")
        }
    }

    /// Stores a source's cursor; nil forgets it (the source restarts from its live head).
    public func setCursor(_ seq: Int64?, for source: String, at time: String) throws(Error) {
        do {
            try pool.write { db in
                if let seq {
                    try db.execute(
                        sql: """
                            INSERT INTO cursor (source, seq, updated_at) VALUES (?, ?, ?)
                            ON CONFLICT(source) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at
                            """,
                        arguments: [source, seq, time])
                } else {
                    try db.execute(sql: "DELETE FROM cursor WHERE source = ?", arguments: [source])
                }
            }
        } catch {
            throw Error(description: "writing the cursor: \(error)")
        }
    }

    /// The journal mode in force (`wal`), for health checks and tests.
    public func journalMode() throws -> String? {
        try pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
    }
}
