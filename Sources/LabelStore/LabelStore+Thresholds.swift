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

    /// Forgets stored hits no rule can count any more: those of rules not in `windows` (rule id →
    /// its window in microseconds: rules removed, or without a threshold now) and those older
    /// than `reference` minus their rule's window. The writer forgets an account's old hits when
    /// it stores a new one for it; this is for the accounts never hit again.
    ///
    /// - Returns: how many were forgotten.
    @discardableResult
    public func pruneThresholdHits(windows: [String: Int64], reference: Int64) throws(Error) -> Int {
        do {
            return try pool.write { db in
                let rules = windows.keys.sorted()
                let placeholders = rules.map { _ in "?" }.joined(separator: ", ")
                try db.execute(
                    sql: "DELETE FROM threshold_hit WHERE rule_id NOT IN (\(placeholders))",
                    arguments: StatementArguments(rules))
                var forgotten = db.changesCount
                for rule in rules {
                    let (before, overflow) = reference.subtractingReportingOverflow(windows[rule]!)
                    guard !overflow else { continue }
                    try db.execute(
                        sql: "DELETE FROM threshold_hit WHERE rule_id = ? AND time < ?", arguments: [rule, before])
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
