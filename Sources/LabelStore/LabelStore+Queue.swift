import ATProto
import GRDB

/// The global budget's queue: changes that had no room when they were planned, stored in the
/// same transaction as everything else (a crash loses none of them), and taken out in order —
/// people's first, then rules', each oldest first — as the budget makes room.
extension LabelStore {
    /// Of `keys`, those with changes waiting in the queue other than the rows `excluding`, each
    /// with the newest event of `eventSource` among them (`Int64.min` for none).
    static func queuedKeys(
        _ keys: [LabelKey], excluding: Set<Int64>, eventSource: CursorName?, db: Database
    ) throws -> [LabelKey: Int64] {
        var out: [LabelKey: Int64] = [:]
        let statement = try db.cachedStatement(
            sql: "SELECT id, event_source, event_seq FROM label_queue WHERE uri = ? AND cid = ? AND val = ?")
        for key in Set(keys) {
            for row in try Row.fetchAll(statement, arguments: [key.subject.rawValue, key.cid, key.val]) {
                let id: Int64 = row["id"]
                guard !excluding.contains(id) else { continue }
                let source: String? = row["event_source"]
                let seq: Int64? = source != nil && source == eventSource?.rawValue ? row["event_seq"] : nil
                out[key] = max(out[key] ?? .min, seq ?? .min)
            }
        }
        return out
    }

    /// Queues the change of `step`. A person's change also moves the changes queued before it on
    /// the same label up to its priority, so the label's changes still go out in order.
    static func enqueue(_ step: LabelStep, eventSource: CursorName?, at time: String, db: Database) throws {
        let change = step.change
        let (origin, ruleID, actor): (String, String?, String?) =
            switch change.origin {
            case .rule(let id): ("rule", id, nil)
            case .manual(let who): ("manual", nil, who)
            }
        let priority = change.isPriority ? 0 : 1
        if priority == 0 {
            try db.cachedStatement(
                sql: "UPDATE label_queue SET priority = 0 WHERE uri = ? AND cid = ? AND val = ? AND priority > 0"
            ).execute(arguments: [change.subject.rawValue, change.cid ?? "", change.val])
        }
        try db.cachedStatement(
            sql: """
                INSERT INTO label_queue (priority, action, uri, cid, val, exp, origin, rule_id, actor, field, snippet,
                    reason, report_id, event_source, event_seq, event_time, queued_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            priority, change.action.rawValue, change.subject.rawValue, change.cid ?? "", change.val, change.exp,
            origin, ruleID, actor, change.field, change.snippet, change.reason, change.reportID,
            change.eventSeq == nil ? nil : eventSource?.rawValue, change.eventSeq, change.eventTime, time,
        ])
    }

    /// Takes a change that went out (or turned out to change nothing) off the queue.
    static func dequeue(_ id: Int64, db: Database) throws {
        try db.cachedStatement(sql: "DELETE FROM label_queue WHERE id = ?").execute(arguments: [id])
    }

    /// How many changes wait in the queue.
    public func queueDepth() throws(Error) -> Int {
        do {
            return try pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM label_queue") ?? 0 }
        } catch {
            throw Error("reading the label queue", error)
        }
    }

    /// The next `limit` changes to go out, in order, each with its `queueID`. A change whose
    /// stream event belongs to another stream than `eventSource` loses its seq (it can no longer
    /// be compared with the labels' events).
    public func queuedChanges(limit: Int, eventSource: CursorName?) throws(Error) -> [LabelChange] {
        do {
            return try pool.read { db in
                let rows = try Row.fetchAll(
                    db, sql: "SELECT * FROM label_queue ORDER BY priority, id LIMIT ?", arguments: [limit])
                return try rows.map { row in
                    let origin: LabelChange.Origin =
                        row["origin"] == "rule"
                        ? .rule(id: row["rule_id"] ?? "") : .manual(actor: row["actor"] ?? "")
                    let cid: String = row["cid"]
                    let source: String? = row["event_source"]
                    return LabelChange(
                        action: LabelChange.Action(rawValue: row["action"]) ?? .apply,
                        subject: try LabelSubject(row["uri"] as String), cid: cid.isEmpty ? nil : cid,
                        val: row["val"], exp: row["exp"], origin: origin, field: row["field"],
                        snippet: row["snippet"], reason: row["reason"], reportID: row["report_id"],
                        eventSeq: source != nil && source == eventSource?.rawValue ? row["event_seq"] : nil,
                        eventTime: row["event_time"], queueID: row["id"])
                }
            }
        } catch {
            throw Error("reading the label queue", error)
        }
    }
}
