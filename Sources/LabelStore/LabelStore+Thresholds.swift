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
                let ids = rules.keys.sorted()
                var forgotten = 0
                if forgetUnlisted {
                    let placeholders = ids.map { _ in "?" }.joined(separator: ", ")
                    try db.execute(
                        sql: """
                            DELETE FROM threshold_hit WHERE rowid IN
                                (SELECT rowid FROM threshold_hit WHERE rule_id NOT IN (\(placeholders)) LIMIT ?)
                            """,
                        arguments: StatementArguments(ids) + [limit])
                    forgotten = db.changesCount
                }
                guard let reference else { return forgotten }
                for id in ids where forgotten < limit {
                    guard let window = rules[id] ?? nil else { continue }
                    let (before, overflow) = reference.subtractingReportingOverflow(window)
                    guard !overflow else { continue }
                    try db.execute(
                        sql: """
                            DELETE FROM threshold_hit WHERE rowid IN
                                (SELECT rowid FROM threshold_hit WHERE rule_id = ? AND time < ? LIMIT ?)
                            """,
                        arguments: [id, before, limit - forgotten])
                    forgotten += db.changesCount
                }
                return forgotten
            }
        } catch {
            throw Error("forgetting old threshold hits", error)
        }
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
