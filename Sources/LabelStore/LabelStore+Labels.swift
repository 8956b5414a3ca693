import Foundation
import ATProto
import GRDB

extension LabelStore {
    /// A signing key known to the store; labels record which key signed them.
    public func keyID(forDIDKey didKey: String, at time: String) throws(Error) -> Int64 {
        do {
            return try pool.write { db in
                if let id = try Int64.fetchOne(db, sql: "SELECT id FROM signing_key WHERE did_key = ?", arguments: [didKey]) {
                    return id
                }
                try db.execute(
                    sql: "INSERT INTO signing_key (did_key, created_at) VALUES (?, ?)", arguments: [didKey, time])
                return db.lastInsertedRowID
            }
        } catch {
            throw Error(description: "recording the signing key: \(error)")
        }
    }

    /// Applies `changes` in one transaction, together with `cursor` (the source's low-water mark),
    /// so that after a crash either both are stored or neither is.
    ///
    /// Changes that change nothing are dropped: applying a label that is applied (same value, same
    /// expiry), negating one that is not applied. A rule never re-applies a label a person negated.
    /// `cts` never goes backwards for one `(src, uri, cid, val)`: a change stamped earlier than the
    /// stored row is stamped just after it. Each accepted change gives its row a fresh seq, so the
    /// stream carries only the latest state of every label.
    ///
    /// - Parameters:
    ///   - src: the labeler's DID.
    ///   - now: the time to stamp as `cts` (ISO 8601, milliseconds).
    ///   - sign: signs an unsigned label (the writer holds the key).
    ///   - keyID: the row id of the key `sign` uses.
    /// - Returns: the rows written, in seq order.
    public func write(
        _ changes: [LabelChange], src: String, now: String, cursor: (name: String, seq: Int64)?,
        keyID: Int64, sign: (Label) throws -> Label
    ) throws(Error) -> [StoredLabel] {
        do {
            return try pool.write { db in
                var written: [StoredLabel] = []
                for change in changes {
                    if let row = try apply(change, src: src, now: now, keyID: keyID, sign: sign, db: db) {
                        written.append(row)
                    }
                }
                if let cursor {
                    try db.execute(
                        sql: """
                            INSERT INTO cursor (source, seq, updated_at) VALUES (?, ?, ?)
                            ON CONFLICT(source) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at
                            """,
                        arguments: [cursor.name, cursor.seq, now])
                }
                return written
            }
        } catch let error as Error {
            throw error
        } catch {
            throw Error(description: "writing labels: \(error)")
        }
    }

    private func apply(
        _ change: LabelChange, src: String, now: String, keyID: Int64, sign: (Label) throws -> Label, db: Database
    ) throws -> StoredLabel? {
        let cidKey = change.cid ?? ""
        // Cached statements: preparing SQL costs more than running it at these sizes.
        let current = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT seq, neg, cts, exp, locked FROM label WHERE src = ? AND uri = ? AND cid = ? AND val = ?"),
            arguments: [src, change.uri, cidKey, change.val])
        let isNegated = current.map { ($0["neg"] as Int64) != 0 } ?? true
        let locked = current.map { ($0["locked"] as Int64) != 0 } ?? false
        switch change.action {
        case .apply:
            if case .rule = change.origin, locked { return nil }
            if let current, !isNegated, (current["exp"] as String?) == change.exp { return nil }
        case .negate:
            if isNegated {
                // Not applied: nothing to retract. A person's negation still locks it against rules,
                // without a new stream entry (the label's state on the wire does not change).
                if let current, case .manual = change.origin, !locked {
                    let seq: Int64 = current["seq"]
                    try db.cachedStatement(sql: "UPDATE label SET locked = 1 WHERE seq = ?").execute(arguments: [seq])
                    try recordHistory(change, seq: seq, src: src, now: now, db: db)
                }
                return nil
            }
        }
        var cts = now
        if let previous: String = current?["cts"], previous >= cts { cts = Self.justAfter(previous) }
        let unsigned = Label(
            src: src, uri: change.uri, cid: change.cid, val: change.val, neg: change.action == .negate ? true : nil,
            cts: cts, exp: change.action == .apply ? change.exp : nil)
        let signed = try sign(unsigned)
        guard let sig = signed.sig else { throw Error(description: "the signer returned no signature") }
        // A person's negation locks the label against rules; a person's apply unlocks it.
        let lock: Int64 =
            switch change.origin {
            case .manual: change.action == .negate ? 1 : 0
            case .rule: locked ? 1 : 0
            }
        if let current {
            try db.cachedStatement(sql: "DELETE FROM label WHERE seq = ?").execute(arguments: [current["seq"] as Int64])
        }
        try db.cachedStatement(
            sql: """
                INSERT INTO label (src, uri, cid, val, neg, cts, exp, sig, key_id, locked)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(
            arguments: [
                src, change.uri, cidKey, change.val, change.action == .negate ? 1 : 0, cts, unsigned.exp, Data(sig), keyID,
                lock,
            ])
        let seq = db.lastInsertedRowID
        try recordHistory(change, seq: seq, src: src, now: now, db: db)
        return StoredLabel(seq: seq, label: signed, keyID: keyID)
    }

    private func recordHistory(_ change: LabelChange, seq: Int64, src: String, now: String, db: Database) throws {
        var ruleID: String? = nil
        var actor: String? = nil
        switch change.origin {
        case .rule(let id): ruleID = id
        case .manual(let who): actor = who
        }
        try db.cachedStatement(
            sql: """
                INSERT INTO label_history (seq, src, uri, cid, val, action, origin, rule_id, actor, field, snippet, reason, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(
            arguments: [
                seq, src, change.uri, change.cid ?? "", change.val, change.action.rawValue, change.origin.kind, ruleID,
                actor, change.field, change.snippet, change.reason, now,
            ])
    }

    /// A datetime one millisecond after `cts` (which sorts as a string: same format, UTC).
    static func justAfter(_ cts: String) -> String {
        guard let parsed = try? Datetime(cts) else { return cts }
        return Datetime.format(unixMicros: parsed.unixMicros + 1000)
    }

    /// Current rows with seq above `after`, in seq order, at most `limit` (for the label stream).
    public func labels(after: Int64, limit: Int) throws(Error) -> [StoredLabel] {
        do {
            return try pool.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT * FROM label WHERE seq > ? ORDER BY seq LIMIT ?", arguments: [after, limit]
                ).map(Self.storedLabel)
            }
        } catch {
            throw Error(description: "reading labels: \(error)")
        }
    }

    /// The history of one subject (a record URI or a DID), oldest first.
    public func history(uri: String) throws(Error) -> [LabelHistoryEntry] {
        do {
            return try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM label_history WHERE uri = ? ORDER BY id", arguments: [uri]).map {
                    row in
                    let cid: String = row["cid"]
                    return LabelHistoryEntry(
                        seq: row["seq"], uri: row["uri"], cid: cid.isEmpty ? nil : cid, val: row["val"],
                        action: LabelChange.Action(rawValue: row["action"]) ?? .apply, origin: row["origin"],
                        ruleID: row["rule_id"], actor: row["actor"], field: row["field"], snippet: row["snippet"],
                        reason: row["reason"], time: row["created_at"])
                }
            }
        } catch {
            throw Error(description: "reading history: \(error)")
        }
    }

    /// The highest seq in the label stream (0 when empty).
    public func lastLabelSeq() throws(Error) -> Int64 {
        do {
            return try pool.read { db in try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM label") ?? 0 }
        } catch {
            throw Error(description: "reading labels: \(error)")
        }
    }

    static func storedLabel(_ row: Row) -> StoredLabel {
        let cid: String = row["cid"]
        let sig: [UInt8] = Array(row["sig"] as Data)
        let neg: Int64 = row["neg"]
        return StoredLabel(
            seq: row["seq"],
            label: Label(
                src: row["src"], uri: row["uri"], cid: cid.isEmpty ? nil : cid, val: row["val"], neg: neg != 0 ? true : nil,
                cts: row["cts"], exp: row["exp"], sig: sig),
            keyID: row["key_id"])
    }
}
