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
