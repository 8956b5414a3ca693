import ATProto
import GRDB

/// The stored state of the label keys a batch touches, and the write epoch it was read at.
public struct LabelSnapshot: Sendable {
    public var current: [LabelKey: CurrentLabel]
    /// Bumped by every transaction that changes labels; a commit planned on this snapshot is
    /// refused (`Error.isStalePlan`) when it moved.
    public var epoch: Int64
    /// The budget counts asked for and every rule trip.
    public var budgets = BudgetLedger()
    /// The keys with changes waiting in the global budget's queue (when asked for), each with
    /// the newest stream event queued for it (`Int64.min` for none).
    public var queuedKeys: [LabelKey: Int64] = [:]
}

/// Everything one commit of the label writer stores, in one SQLite transaction: the new label
/// rows (signed), their history, locks, threshold hits and the cursor. Either all of it is
/// stored or none of it.
public struct LabelTransaction: Sendable {
    /// The labels' `src`.
    public var src: String
    /// The time recorded in the history and with the cursor.
    public var time: Datetime
    /// The row id of the key that signed the labels.
    public var keyID: Int64
    /// The epoch of the snapshot the steps were planned on.
    public var epoch: Int64
    /// The planned steps, with their labels signed.
    public var steps: [LabelStep]
    public var thresholdHits: [ThresholdHit]
    /// The cursor to store: the stream's name and the seq every event up to which is handled.
    public var cursor: (name: CursorName, seq: Int64)?
    /// A stream whose sequence restarted (a relay whose seqs went back): its cursor is dropped
    /// and the events it recorded on labels and threshold hits are forgotten, before anything
    /// else in the transaction.
    public var restartedSource: CursorName?
    /// What planning counted in budgets and the rules it tripped, to store.
    public var budgets: BudgetLedger?
    /// The stream the steps' `eventSeq`s belong to, stored with queued changes.
    public var eventSource: CursorName?
    /// Accounts that became inactive or active again, in event order.
    public var accountStatuses: [AccountStatusChange] = []

    public init(
        src: String, time: Datetime, keyID: Int64, epoch: Int64, steps: [LabelStep] = [],
        thresholdHits: [ThresholdHit] = [],
        cursor: (name: CursorName, seq: Int64)? = nil, restartedSource: CursorName? = nil,
        budgets: BudgetLedger? = nil, eventSource: CursorName? = nil
    ) {
        self.budgets = budgets
        self.eventSource = eventSource
        self.src = src
        self.time = time
        self.keyID = keyID
        self.epoch = epoch
        self.steps = steps
        self.thresholdHits = thresholdHits
        self.cursor = cursor
        self.restartedSource = restartedSource
    }

    /// Whether it must not be committed on a stale snapshot: it changes labels, budgets or the
    /// queue, or withholds a label because a rule is tripped (a reset since would make that
    /// wrong).
    public var changesLabels: Bool {
        restartedSource != nil || budgets?.hasChanges == true
            || steps.contains(where: { $0.writes || $0.withheld || $0.change.queueID != nil })
    }
}

extension LabelStore {
    /// The stored rows of `keys` (of labeler `src`), and the write epoch, from one read snapshot.
    ///
    /// Not cancellable, as `commit` is not: the writer's last transaction runs after it was told
    /// to stop, and must not be cut short.
    ///
    /// - Parameters:
    ///   - counters: the budget windows to read the counts of (every trip is read).
    ///   - queue: whether to read which keys have changes queued, and the queue rows this batch
    ///     takes out (not counted).
    public func snapshot(
        of keys: [LabelKey], src: String, counters: Set<BudgetCounter> = [], queue: Set<Int64>? = nil,
        eventSource: CursorName? = nil
    ) async throws(Error) -> LabelSnapshot {
        do {
            return try await withCheckedThrowingContinuation { continuation in
                pool.asyncRead { access in
                    continuation.resume(
                        with: Result {
                            let db = try access.get()
                            var snapshot = try Self.snapshot(of: keys, src: src, db: db)
                            snapshot.budgets = try Self.budgets(counting: counters, db: db)
                            if let queue {
                                snapshot.queuedKeys = try Self.queuedKeys(
                                    keys, excluding: queue, eventSource: eventSource, db: db)
                            }
                            return snapshot
                        })
                }
            }
        } catch {
            throw Error("reading labels", error)
        }
    }

    /// The same, without leaving the calling thread (for one-off commands).
    public func snapshotNow(of keys: [LabelKey], src: String) throws(Error) -> LabelSnapshot {
        do {
            return try pool.read { db in try Self.snapshot(of: keys, src: src, db: db) }
        } catch {
            throw Error("reading labels", error)
        }
    }

    private static func snapshot(of keys: [LabelKey], src: String, db: Database) throws -> LabelSnapshot {
        let epoch = try Int64.fetchOne(db, sql: "SELECT value FROM write_epoch WHERE id = 1") ?? 0
        var current: [LabelKey: CurrentLabel] = [:]
        current.reserveCapacity(keys.count)
        // Only what planning needs (not the signature): one lookup per key, thousands a batch.
        let statement = try db.cachedStatement(
            sql: """
                SELECT seq, neg, cts, exp, locked, event_source, event_seq FROM label
                WHERE src = ? AND uri = ? AND cid = ? AND val = ?
                """)
        for key in keys where current[key] == nil {
            if let row = try Row.fetchOne(statement, arguments: [src, key.subject.rawValue, key.cid, key.val]) {
                let eventSource: String? = row["event_source"]
                let eventSeq: Int64? = row["event_seq"]
                current[key] = CurrentLabel(
                    seq: row["seq"], negated: row["neg"], cts: row["cts"], exp: row["exp"], locked: row["locked"],
                    event: eventSource.flatMap { source in
                        eventSeq.map { EventPosition(source: CursorName(source), seq: $0) }
                    })
            }
        }
        return LabelSnapshot(current: current, epoch: epoch)
    }

    /// Commits `transaction` on the database's writer queue and returns the rows written, in seq
    /// order. Throws `Error.stalePlan` when labels were changed since its snapshot (by another
    /// process): nothing is stored, and the caller plans again.
    ///
    /// Not cancellable: a task that is told to stop still commits what it was committing (GRDB's
    /// `async` write would roll it back, and the labels it held would wait for a restart).
    public func commit(_ transaction: LabelTransaction) async throws(Error) -> [StoredLabel] {
        do {
            return try await withCheckedThrowingContinuation { continuation in
                pool.asyncWrite({ db in try Self.commit(transaction, db: db) }) { _, result in
                    continuation.resume(with: result)
                }
            }
        } catch {
            throw Error("writing labels", error)
        }
    }

    /// The same, blocking the calling thread (for one-off commands and tests).
    public func commitNow(_ transaction: LabelTransaction) throws(Error) -> [StoredLabel] {
        do {
            return try pool.write { db in try Self.commit(transaction, db: db) }
        } catch {
            throw Error("writing labels", error)
        }
    }

    private static func commit(_ transaction: LabelTransaction, db: Database) throws -> [StoredLabel] {
        if transaction.changesLabels {
            try db.cachedStatement(sql: "UPDATE write_epoch SET value = value + 1 WHERE id = 1 AND value = ?")
                .execute(arguments: [transaction.epoch])
            if db.changesCount == 0 { throw Error.stalePlan }
        }
        let time = transaction.time.rawValue
        if let source = transaction.restartedSource {
            try db.execute(sql: "DELETE FROM cursor WHERE source = ?", arguments: [source.rawValue])
            try db.execute(
                sql: "UPDATE label SET event_source = NULL, event_seq = NULL WHERE event_source = ?",
                arguments: [source.rawValue])
            try db.execute(
                sql:
                    "UPDATE threshold_hit SET event_source = NULL, event_seq = NULL, ordinal = NULL WHERE event_source = ?",
                arguments: [source.rawValue])
            try db.execute(
                sql: "UPDATE label_queue SET event_source = NULL, event_seq = NULL WHERE event_source = ?",
                arguments: [source.rawValue])
        }
        if let budgets = transaction.budgets { try store(budgets, db: db) }
        for change in transaction.accountStatuses { try store(change, at: time, db: db) }
        var written: [StoredLabel] = []
        // Rows are written through prepared statements kept for the connection: the records'
        // generic `insert` builds its arguments through a persistence container and costs several
        // times more per row, and a transaction writes thousands.
        let deleteRow = try db.cachedStatement(
            sql: "DELETE FROM label WHERE src = ? AND uri = ? AND cid = ? AND val = ?")
        let insertRow = try db.cachedStatement(sql: LabelRow.insertSQL)
        let insertHistory = try db.cachedStatement(sql: LabelHistoryRow.insertSQL)
        let lockRow = try db.cachedStatement(sql: "UPDATE label SET locked = 1 WHERE seq = ?")
        for step in transaction.steps {
            if let id = step.change.queueID, !step.queued { try dequeue(id, db: db) }
            if step.queued {
                if step.change.queueID == nil {
                    try enqueue(step, eventSource: transaction.eventSource, at: time, db: db)
                }
            } else if let label = step.label {
                guard let sig = label.sig else { throw Error(description: "a label reached the store unsigned") }
                // A new seq for the key: the old row leaves the stream, the new one joins its end.
                try deleteRow.execute(arguments: [transaction.src, label.uri, label.cid ?? "", label.val])
                var row = LabelRow(label, sig: sig, keyID: transaction.keyID, locked: step.locked, event: step.event)
                try insertRow.execute(arguments: row.insertArguments)
                row.seq = db.lastInsertedRowID
                let stored = row.stored
                try insertHistory.execute(
                    arguments: LabelHistoryRow(step.change, seq: stored.seq, src: transaction.src, at: time)
                        .insertArguments)
                written.append(stored)
            } else if let seq = step.lockOnlySeq {
                try lockRow.execute(arguments: [seq])
                try insertHistory.execute(
                    arguments: LabelHistoryRow(step.change, seq: seq, src: transaction.src, at: time).insertArguments)
            }
        }
        if !transaction.thresholdHits.isEmpty {
            let prune = try db.cachedStatement(
                sql: "DELETE FROM threshold_hit WHERE rule_id = ? AND did = ? AND time < ?")
            for hit in transaction.thresholdHits {
                try ThresholdHitRow(hit).insert(db, onConflict: .ignore)
                try prune.execute(arguments: [hit.ruleID, hit.did, hit.time - hit.window])
            }
        }
        if let cursor = transaction.cursor {
            try CursorRow(source: cursor.name.rawValue, seq: cursor.seq, updatedAt: time).upsert(db)
        }
        return written
    }
}
