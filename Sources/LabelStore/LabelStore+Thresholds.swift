import GRDB

/// Where a threshold hit comes from: the stream, the event's seq in it, and the hit's position
/// among the event's hits.
public struct ThresholdEvent: Sendable, Hashable {
    public var source: String
    public var seq: Int64
    public var ordinal: Int

    public init(source: String, seq: Int64, ordinal: Int) {
        self.source = source
        self.seq = seq
        self.ordinal = ordinal
    }
}

extension LabelStore {
    /// How many times rule `ruleID` matched for account `did` at or after `since` (microseconds).
    /// Threshold rules (`count` within a window) read this, so counts survive restarts.
    ///
    /// With `before`, hits of that event at or after its position, and of later events of the
    /// same stream, are not counted: an event handled again after a restart sees exactly what it
    /// saw the first time, even though its own hits may already be stored.
    public func thresholdCount(ruleID: String, did: String, since: Int64, before: ThresholdEvent? = nil) throws(Error) -> Int {
        var sql = "SELECT COUNT(*) FROM threshold_hit WHERE rule_id = ? AND did = ? AND time >= ?"
        var arguments: StatementArguments = [ruleID, did, since]
        if let before {
            sql += " AND NOT (event_source IS ? AND (event_seq > ? OR (event_seq = ? AND ordinal >= ?)))"
            arguments += [before.source, before.seq, before.seq, before.ordinal]
        }
        do {
            return try pool.read { db in try Int.fetchOne(db, sql: sql, arguments: arguments) ?? 0 }
        } catch {
            throw Error(description: "reading threshold counts: \(error)")
        }
    }

    /// Records rule matches that count toward thresholds, forgetting those older than their
    /// window (`window` microseconds before each new one), so the table stays small. A hit
    /// already recorded for the same event and position is not recorded again.
    public func recordThresholdHits(
        _ hits: [(ruleID: String, did: String, time: Int64, window: Int64, event: ThresholdEvent?)]
    ) throws(Error) {
        guard !hits.isEmpty else { return }
        do {
            try pool.write { db in
                for hit in hits {
                    try db.execute(
                        sql: """
                            INSERT OR IGNORE INTO threshold_hit (rule_id, did, time, event_source, event_seq, ordinal)
                            VALUES (?, ?, ?, ?, ?, ?)
                            """,
                        arguments: [hit.ruleID, hit.did, hit.time, hit.event?.source, hit.event?.seq, hit.event?.ordinal])
                    try db.execute(
                        sql: "DELETE FROM threshold_hit WHERE rule_id = ? AND did = ? AND time < ?",
                        arguments: [hit.ruleID, hit.did, hit.time - hit.window])
                }
            }
        } catch {
            throw Error(description: "recording threshold counts: \(error)")
        }
    }
}
