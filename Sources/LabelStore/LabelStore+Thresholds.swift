import GRDB

extension LabelStore {
    /// How many times rule `ruleID` matched for account `did` at or after `since` (microseconds).
    /// Threshold rules (`count` within a window) read this, so counts survive restarts.
    public func thresholdCount(ruleID: String, did: String, since: Int64) throws(Error) -> Int {
        do {
            return try pool.read { db in
                try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM threshold_hit WHERE rule_id = ? AND did = ? AND time >= ?",
                    arguments: [ruleID, did, since]) ?? 0
            }
        } catch {
            throw Error(description: "reading threshold counts: \(error)")
        }
    }

    /// Records rule matches that count toward thresholds, forgetting those older than their
    /// window (`window` microseconds before each new one), so the table stays small.
    public func recordThresholdHits(_ hits: [(ruleID: String, did: String, time: Int64, window: Int64)]) throws(Error) {
        guard !hits.isEmpty else { return }
        do {
            try pool.write { db in
                for hit in hits {
                    try db.execute(
                        sql: "INSERT INTO threshold_hit (rule_id, did, time) VALUES (?, ?, ?)",
                        arguments: [hit.ruleID, hit.did, hit.time])
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
