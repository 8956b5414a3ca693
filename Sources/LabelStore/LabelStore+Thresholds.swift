import ATProto
import GRDB

/// Where a threshold hit comes from: the stream, the event's seq in it, and the hit's position
/// among the event's hits.
public struct ThresholdEvent: Sendable, Hashable {
    public var source: CursorName
    public var seq: Int64
    public var ordinal: Int

    public init(source: CursorName, seq: Int64, ordinal: Int) {
        self.source = source
        self.seq = seq
        self.ordinal = ordinal
    }
}

extension LabelStore {
    /// How many hits of rule `ruleID` for account `did` at or after `since` (microseconds) are
    /// stored (what a restarted labeler counts from; `StoredThresholdCounts` keeps the counts).
    public func thresholdCount(ruleID: String, did: String, since: Int64) throws(Error) -> Int {
        try thresholdHits(ruleID: ruleID, did: did, since: since, window: 0).count
    }

    /// Every stored hit of rule `ruleID` for account `did` at or after `since` (microseconds), for
    /// counts kept in memory that start from what the store holds.
    public func thresholdHits(ruleID: String, did: String, since: Int64, window: Int64) throws(Error) -> [ThresholdHit]
    {
        do {
            return try pool.read { db in
                try ThresholdHitRow.fetchAll(
                    db, sql: "SELECT * FROM threshold_hit WHERE rule_id = ? AND did = ? AND time >= ?",
                    arguments: [ruleID, did, since]
                ).map { $0.hit(window: window) }
            }
        } catch {
            throw Error("reading threshold counts", error)
        }
    }

    /// Forgets at most `limit` stored hits no rule can count any more: with `forgetUnlisted`,
    /// those of rules not in `rules`; and those older than `reference` minus their rule's window
    /// (rule id → window in microseconds; nil keeps every hit of that rule; a nil `reference`
    /// forgets none by age).
    /// The writer forgets an account's old hits when it stores a new one for it; this is for
    /// the accounts never hit again, and the rules removed. Called again while it returns
    /// `limit`, each call its own short transaction, so that a large table never holds the
    /// writer up for long.
    ///
    /// - Returns: how many were forgotten.
    @discardableResult
    public func pruneThresholdHits(
        rules: [String: Int64?], forgetUnlisted: Bool, reference: Int64?, limit: Int
    ) throws(Error) -> Int {
        do {
            return try pool.write { db in
                try Self.pruneRuleRows(
                    db, table: "threshold_hit", rule: "rule_id", time: "time", rules: rules,
                    forgetUnlisted: forgetUnlisted, reference: reference, limit: limit)
            }
        } catch {
            throw Error("forgetting old threshold hits", error)
        }
    }

    /// Deletes rows of `table` kept per rule (column `rule`) and timed (column `time`, in
    /// microseconds) that no rule can count any more: with `forgetUnlisted`, those of rules not in
    /// `rules`; and those older than `reference` minus their rule's window (nil keeps every row of
    /// that rule; a nil `reference` deletes none by age). At most `limit` rows (nil: all; a
    /// limited delete needs a table with rowids). The rule-threshold and report-rule hits share it.
    ///
    /// - Returns: how many rows were deleted.
    static func pruneRuleRows(
        _ db: Database, table: String, rule: String, time: String, rules: [String: Int64?], forgetUnlisted: Bool,
        reference: Int64?, limit: Int?
    ) throws -> Int {
        var deleted = 0
        /// Deletes the rows matching `condition`, within what is left of the limit.
        func delete(where condition: String, _ arguments: StatementArguments) throws {
            if let limit {
                try db.execute(
                    sql: "DELETE FROM \(table) WHERE rowid IN (SELECT rowid FROM \(table) WHERE \(condition) LIMIT ?)",
                    arguments: arguments + [limit - deleted])
            } else {
                try db.execute(sql: "DELETE FROM \(table) WHERE \(condition)", arguments: arguments)
            }
            deleted += db.changesCount
        }
        let ids = rules.keys.sorted()
        if forgetUnlisted {
            let placeholders = ids.map { _ in "?" }.joined(separator: ", ")
            try delete(where: "\(rule) NOT IN (\(placeholders))", StatementArguments(ids))
        }
        guard let reference else { return deleted }
        for id in ids where deleted < limit ?? .max {
            guard let window = rules[id] ?? nil else { continue }
            let (before, overflow) = reference.subtractingReportingOverflow(window)
            guard !overflow else { continue }
            try delete(where: "\(rule) = ? AND \(time) < ?", [id, before])
        }
        return deleted
    }
}

/// One match of a threshold rule (`count` within a window) for one account, stored by the label
/// writer with the event's labels and cursor, and forgotten once older than its window.
public struct ThresholdHit: Sendable, Hashable {
    public var ruleID: String
    public var did: String
    /// When it happened (the event's time), in microseconds.
    public var time: Int64
    /// The rule's window, in microseconds: hits older than `time - window` are forgotten when this
    /// one is stored.
    public var window: Int64
    /// The event behind it; nil when events carry no stream position.
    public var event: ThresholdEvent?

    public init(ruleID: String, did: String, time: Int64, window: Int64, event: ThresholdEvent?) {
        self.ruleID = ruleID
        self.did = did
        self.time = time
        self.window = window
        self.event = event
    }
}
