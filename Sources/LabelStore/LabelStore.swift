import ATProto
import GRDB

/// The labeler's SQLite database (WAL mode): stream cursors now; labels, history and counters as
/// they arrive. Schema changes are named, append-only migrations, so every earlier database opens.
public final class LabelStore: Sendable {
    public let path: String
    let pool: DatabasePool

    /// What went wrong, in one line; for a database failure, SQLite's own error too (its result
    /// code tells a busy database from a full disk from corruption).
    public struct Error: Swift.Error, CustomStringConvertible, Sendable {
        public let description: String
        /// The SQLite error behind it, when there is one.
        public let databaseError: DatabaseError?
        /// A plan was made on rows that another writer changed before the commit: plan again.
        public let isStalePlan: Bool

        public init(description: String) {
            self.description = description
            databaseError = nil
            isStalePlan = false
        }

        /// `context: error`, keeping a `DatabaseError` as it is.
        init(_ context: String, _ error: any Swift.Error) {
            if let error = error as? Error {
                self = error
                return
            }
            description = "\(context): \(error)"
            databaseError = error as? DatabaseError
            isStalePlan = false
        }

        static let stalePlan = Error(stalePlan: ())

        private init(stalePlan: Void) {
            description = "the labels changed while the batch was planned"
            databaseError = nil
            isStalePlan = true
        }
    }

    /// How a commit reaches the disk. Labels leave for subscribers as soon as they are committed,
    /// so by default a commit returns only once it is on disk (`full`): with `normal`, an OS crash
    /// or power loss can roll back a commit whose labels subscribers already have, and its seqs
    /// would then be handed out again to other labels, which those subscribers never see.
    public enum Durability: String, Sendable, CaseIterable {
        /// `synchronous=FULL`: every commit is fsynced (the writer's group commit keeps them few).
        case full
        /// `synchronous=NORMAL`: safe across process crashes, not across OS crashes.
        case normal
    }

    /// Opens (creating when absent) the database at `path` and migrates it to the current schema.
    public init(path: String, durability: Durability = .full) throws(Error) {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        let synchronous = durability == .full ? "FULL" : "NORMAL"
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            // The pool turns WAL on with synchronous=NORMAL after preparing each connection; the
            // one writer connection is what commits, so it gets the durability asked for.
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = \(synchronous)") }
            try Self.migrator.migrate(pool)
        } catch {
            throw Error("\(path): cannot open the database", error)
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
        migrator.registerMigration("v6 write epoch") { db in
            // Bumped by every transaction that changes labels: the writer plans on a read snapshot
            // and commits only if nobody (another process: the CLI, a replay) wrote meanwhile.
            try db.execute(
                sql: """
                    CREATE TABLE write_epoch (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
                    INSERT INTO write_epoch (id, value) VALUES (1, 0);
                    """)
        }
        migrator.registerMigration("v7 reports") { db in
            // Reports sent with com.atproto.moderation.createReport. One row per reporter and
            // subject (a DID, or an at:// URI without its cid): a repeated report is an action on
            // the first one, not a new row, so a reporter cannot pile reports on one subject.
            try db.execute(
                sql: """
                    CREATE TABLE report (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        reason_type TEXT NOT NULL,
                        reason TEXT,
                        subject_type TEXT NOT NULL CHECK (subject_type IN ('account', 'record')),
                        subject TEXT NOT NULL,
                        subject_cid TEXT,
                        reported_by TEXT NOT NULL,
                        state TEXT NOT NULL DEFAULT 'open'
                            CHECK (state IN ('open', 'escalated', 'resolved', 'dismissed')),
                        created_at TEXT NOT NULL,
                        updated_at TEXT NOT NULL,
                        UNIQUE (reported_by, subject)
                    );
                    CREATE INDEX report_subject ON report(subject);
                    CREATE INDEX report_state ON report(state, id);
                    CREATE TABLE report_action (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        report_id INTEGER NOT NULL REFERENCES report(id),
                        action TEXT NOT NULL,
                        actor TEXT,
                        reason_type TEXT,
                        reason TEXT,
                        note TEXT,
                        created_at TEXT NOT NULL
                    );
                    CREATE INDEX report_action_report ON report_action(report_id, id);
                    """)
        }
        migrator.registerMigration("v8 reporter mutes") { db in
            // Reporters whose reports are kept out of review (`labeler reports mute`), and the
            // mark on each report filed while its reporter was muted.
            try db.execute(
                sql: """
                    CREATE TABLE reporter_mute (
                        did TEXT PRIMARY KEY,
                        until TEXT,
                        actor TEXT,
                        note TEXT,
                        created_at TEXT NOT NULL
                    );
                    ALTER TABLE report ADD COLUMN muted INTEGER NOT NULL DEFAULT 0 CHECK (muted IN (0, 1));
                    """)
        }
        migrator.registerMigration("v9 label history report") { db in
            // The report a person resolved with this change (`labeler reports resolve`), so that
            // `labels explain` names it.
            try db.execute(sql: "ALTER TABLE label_history ADD COLUMN report_id INTEGER")
        }
        migrator.registerMigration("v10 appeals") { db in
            // The labels an appeal is about: those on its subject when it was filed.
            try db.execute(
                sql: """
                    CREATE TABLE report_label (
                        report_id INTEGER NOT NULL REFERENCES report(id),
                        seq INTEGER NOT NULL,
                        src TEXT NOT NULL,
                        uri TEXT NOT NULL,
                        cid TEXT,
                        val TEXT NOT NULL,
                        PRIMARY KEY (report_id, seq)
                    );
                    """)
        }
        migrator.registerMigration("v11 retractions") { db in
            // `labeler labels retract`: the labels each retraction takes back, with the seq their
            // row had when it began (see LabelStore+Retractions.swift), and how far it got.
            try db.execute(
                sql: """
                    CREATE TABLE retraction (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        criteria TEXT NOT NULL,
                        created_at TEXT NOT NULL,
                        done_through INTEGER NOT NULL DEFAULT 0,
                        finished_at TEXT
                    );
                    CREATE TABLE retraction_target (
                        retraction_id INTEGER NOT NULL REFERENCES retraction(id),
                        ordinal INTEGER NOT NULL,
                        seq INTEGER NOT NULL,
                        src TEXT NOT NULL,
                        uri TEXT NOT NULL,
                        cid TEXT NOT NULL DEFAULT '',
                        val TEXT NOT NULL,
                        rule_id TEXT,
                        applied_at TEXT NOT NULL,
                        PRIMARY KEY (retraction_id, ordinal)
                    );
                    """)
        }
        migrator.registerMigration("v12 rule budgets") { db in
            // Label applications counted per rule (or "*", the labeler as a whole) and fixed
            // window (see BudgetLedger), and the rules that went over their budget: a trip holds
            // until `labeler rules reset`, across restarts. `alerted_at` is set once the webhook
            // took the alert.
            try db.execute(
                sql: """
                    CREATE TABLE rule_budget (
                        owner TEXT NOT NULL,
                        window TEXT NOT NULL,
                        idx INTEGER NOT NULL,
                        count INTEGER NOT NULL,
                        PRIMARY KEY (owner, window, idx)
                    ) WITHOUT ROWID;
                    CREATE TABLE rule_trip (
                        rule_id TEXT PRIMARY KEY,
                        window TEXT NOT NULL,
                        lim INTEGER NOT NULL,
                        event_time INTEGER NOT NULL,
                        tripped_at TEXT NOT NULL,
                        label TEXT NOT NULL,
                        alerted_at TEXT
                    );
                    """)
        }
        migrator.registerMigration("v13 label queue") { db in
            // Changes the global budget had no room for, in the order they go out: people's
            // first (priority 0), then rules' (1), each in the order they were made.
            try db.execute(
                sql: """
                    CREATE TABLE label_queue (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        priority INTEGER NOT NULL,
                        action TEXT NOT NULL,
                        uri TEXT NOT NULL,
                        cid TEXT NOT NULL DEFAULT '',
                        val TEXT NOT NULL,
                        exp TEXT,
                        origin TEXT NOT NULL,
                        rule_id TEXT,
                        actor TEXT,
                        field TEXT,
                        snippet TEXT,
                        reason TEXT,
                        report_id INTEGER,
                        event_source TEXT,
                        event_seq INTEGER,
                        event_time INTEGER,
                        queued_at TEXT NOT NULL
                    );
                    CREATE INDEX label_queue_order ON label_queue (priority, id);
                    CREATE INDEX label_queue_key ON label_queue (uri, cid, val);
                    """)
        }
        migrator.registerMigration("v14 account status") { db in
            // Accounts that `#account` events said are inactive (taken down, suspended, deleted,
            // deactivated), stored with the cursor that passes the event, so verification keeps
            // refusing their commits after a restart.
            try db.execute(
                sql: """
                    CREATE TABLE account_status (
                        did TEXT PRIMARY KEY,
                        status TEXT NOT NULL,
                        updated_at TEXT NOT NULL
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v15 report rules") { db in
            // Rules on reports (`on: [report]`): a report is filed waiting for them
            // (`rules_pending`) and marked done in the transaction that records what they
            // decided, so one filed before a crash is evaluated after the restart. Reports filed
            // before this migration were never meant for rules. `report_rule_hit` holds, per
            // rule and subject (the reported one, or its account), the reporters whose reports
            // matched and the latest such report, for thresholds over distinct reporters within a
            // window.
            try db.execute(
                sql: """
                    ALTER TABLE report ADD COLUMN rules_pending INTEGER NOT NULL DEFAULT 0;
                    CREATE INDEX report_rules_pending ON report(id) WHERE rules_pending = 1;
                    CREATE TABLE report_rule_hit (
                        rule TEXT NOT NULL,
                        subject TEXT NOT NULL,
                        reporter TEXT NOT NULL,
                        at INTEGER NOT NULL,
                        report_id INTEGER NOT NULL,
                        PRIMARY KEY (rule, subject, reporter)
                    ) WITHOUT ROWID;
                    """)
        }
        return migrator
    }

    /// The stored cursor of a source: the seq up to which everything has been processed.
    public func cursor(for source: CursorName) throws(Error) -> Int64? {
        do {
            return try pool.read { db in
                try Int64.fetchOne(db, sql: "SELECT seq FROM cursor WHERE source = ?", arguments: [source.rawValue])
            }
        } catch {
            throw Error("reading the cursor", error)
        }
    }

    /// `PRAGMA synchronous` in force on the writer's connection (2 is FULL, 1 NORMAL).
    public func synchronousLevel() throws(Error) -> Int {
        do {
            return try pool.write { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
        } catch {
            throw Error("reading the durability setting", error)
        }
    }

    /// The journal mode in force (`wal`), for health checks and tests.
    public func journalMode() throws -> String? {
        try pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
    }
}
