import Dispatch
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
    /// The batch is planned in order (later changes see earlier ones), then signed in parallel on
    /// every core, then written: signing is the most expensive step.
    ///
    /// - Parameters:
    ///   - src: the labeler's DID.
    ///   - now: the time to stamp as `cts` (ISO 8601, milliseconds).
    ///   - sign: signs an unsigned label (the writer holds the key); called concurrently, and may
    ///     still be running on other threads for a batch that failed.
    ///   - keyID: the row id of the key `sign` uses.
    ///   - eventSource: the name of the stream the changes' `eventSeq`s belong to (the cursor's
    ///     name); a change is compared with the label's last event only within one stream.
    /// - Returns: the rows written, in seq order.
    public func write(
        _ changes: [LabelChange], src: String, now: String, cursor: (name: String, seq: Int64)?,
        keyID: Int64, eventSource: String? = nil, sign: @escaping @Sendable (Label) throws -> Label
    ) throws(Error) -> [StoredLabel] {
        let eventSource = eventSource ?? cursor?.name
        do {
            return try pool.write { db in
                let plan = try Self.plan(changes, src: src, now: now, eventSource: eventSource, db: db)
                // Rows are written in order as their signatures arrive from the other cores.
                let signer = ParallelSigner(plan.compactMap(\.label), sign: sign)
                var written: [StoredLabel] = []
                var next = 0
                for step in plan {
                    if step.label != nil {
                        let row = try Self.insert(
                            try signer.signed(next), locked: step.locked, keyID: keyID,
                            event: step.event, db: db)
                        next += 1
                        try recordHistory(step.change, seq: row.seq, src: src, now: now, db: db)
                        written.append(row)
                    } else if let lockOnly = step.lockOnlySeq {
                        try db.cachedStatement(sql: "UPDATE label SET locked = 1 WHERE seq = ?").execute(arguments: [lockOnly])
                        try recordHistory(step.change, seq: lockOnly, src: src, now: now, db: db)
                    }
                }
                if let cursor {
                    try db.cachedStatement(
                        sql: """
                            INSERT INTO cursor (source, seq, updated_at) VALUES (?, ?, ?)
                            ON CONFLICT(source) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at
                            """
                    ).execute(arguments: [cursor.name, cursor.seq, now])
                }
                return written
            }
        } catch let error as Error {
            throw error
        } catch {
            throw Error(description: "writing labels: \(error)")
        }
    }

    /// Whether `changes` would write nothing now: planned on a read snapshot, without taking the
    /// write lock. Rules ask to negate their labels on every delete in their scope, and nearly
    /// all of those labels were never applied; a writer that sees such a batch skips its
    /// transaction (the cursor goes with the next one).
    public func changesNothing(_ changes: [LabelChange], src: String, now: String, eventSource: String?) throws(Error)
        -> Bool
    {
        do {
            return try pool.read { db in
                try Self.plan(changes, src: src, now: now, eventSource: eventSource, db: db)
                    .allSatisfy { $0.label == nil && $0.lockOnlySeq == nil }
            }
        } catch let error as Error {
            throw error
        } catch {
            throw Error(description: "planning label changes: \(error)")
        }
    }

    /// What one change will do: write `label` (unsigned yet), or only lock an existing row, or
    /// nothing.
    struct Step {
        let change: LabelChange
        var label: Label?
        var locked = false
        var lockOnlySeq: Int64?
        /// The stream event recorded with the row.
        var event: (source: String, seq: Int64)?
    }

    /// The state of one label as the plan sees it: the stored row, updated by earlier steps.
    struct PlannedState {
        var seq: Int64?
        var negated: Bool
        var cts: String?
        var exp: String?
        var locked: Bool
        var event: (source: String, seq: Int64)?
    }

    static func plan(_ changes: [LabelChange], src: String, now: String, eventSource: String?, db: Database) throws
        -> [Step]
    {
        var overlay: [String: PlannedState] = [:]
        var steps: [Step] = []
        steps.reserveCapacity(changes.count)
        for change in changes {
            let cidKey = change.cid ?? ""
            let key = change.uri + "\u{0}" + cidKey + "\u{0}" + change.val
            var state: PlannedState
            if let known = overlay[key] {
                state = known
            } else if let row = try Row.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT seq, neg, cts, exp, locked, event_source, event_seq FROM label
                        WHERE src = ? AND uri = ? AND cid = ? AND val = ?
                        """),
                arguments: [src, change.uri, cidKey, change.val])
            {
                let eventSource: String? = row["event_source"]
                let eventSeq: Int64? = row["event_seq"]
                state = PlannedState(
                    seq: row["seq"], negated: (row["neg"] as Int64) != 0, cts: row["cts"], exp: row["exp"],
                    locked: (row["locked"] as Int64) != 0,
                    event: eventSource.flatMap { source in eventSeq.map { (source, $0) } })
            } else {
                state = PlannedState(seq: nil, negated: true, cts: nil, exp: nil, locked: false)
            }
            var step = Step(change: change)
            // An event handled again after a restart: its changes are already in the label.
            if let seq = change.eventSeq, let last = state.event, last.source == eventSource, seq <= last.seq {
                steps.append(step)
                continue
            }
            switch change.action {
            case .apply:
                if case .rule = change.origin, state.locked {
                    steps.append(step)
                    continue
                }
                if state.seq != nil, !state.negated, state.exp == change.exp {
                    steps.append(step)
                    continue
                }
            case .negate:
                if state.negated {
                    // Not applied: nothing to retract. A person's negation still locks it against
                    // rules, without a new stream entry (the label on the wire does not change).
                    if let seq = state.seq, case .manual = change.origin, !state.locked {
                        step.lockOnlySeq = seq
                        state.locked = true
                        overlay[key] = state
                    }
                    steps.append(step)
                    continue
                }
            }
            var cts = now
            if let previous = state.cts, previous >= cts { cts = justAfter(previous) }
            step.label = Label(
                src: src, uri: change.uri, cid: change.cid, val: change.val, neg: change.action == .negate ? true : nil,
                cts: cts, exp: change.action == .apply ? change.exp : nil)
            // A person's negation locks the label against rules; a person's apply unlocks it.
            switch change.origin {
            case .manual: step.locked = change.action == .negate
            case .rule: step.locked = state.locked
            }
            // A person's change keeps the row's last event, so replayed events stay recognised.
            if let seq = change.eventSeq, let eventSource { step.event = (eventSource, seq) } else { step.event = state.event }
            state = PlannedState(
                seq: -1, negated: change.action == .negate, cts: cts, exp: step.label?.exp, locked: step.locked,
                event: step.event)
            overlay[key] = state
            steps.append(step)
        }
        return steps
    }

    /// Replaces the row of `label`'s key with a new one (a fresh seq).
    static func insert(
        _ label: Label, locked: Bool, keyID: Int64, event: (source: String, seq: Int64)?, db: Database
    ) throws -> StoredLabel {
        guard let sig = label.sig else { throw Error(description: "the signer returned no signature") }
        let cidKey = label.cid ?? ""
        try db.cachedStatement(sql: "DELETE FROM label WHERE src = ? AND uri = ? AND cid = ? AND val = ?")
            .execute(arguments: [label.src, label.uri, cidKey, label.val])
        try db.cachedStatement(
            sql: """
                INSERT INTO label (src, uri, cid, val, neg, cts, exp, sig, key_id, locked, event_source, event_seq)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(
            arguments: [
                label.src, label.uri, cidKey, label.val, label.isNegation ? 1 : 0, label.cts, label.exp, Data(sig), keyID,
                locked ? 1 : 0, event?.source, event?.seq,
            ])
        return StoredLabel(seq: db.lastInsertedRowID, label: label, keyID: keyID)
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

    /// Forgets which events of `source` last changed each label. Called when the source's sequence
    /// restarts (a relay whose seqs went back), since its new seqs cannot be compared with the old.
    public func forgetEvents(of source: String) throws(Error) {
        do {
            try pool.write { db in
                try db.execute(
                    sql: "UPDATE label SET event_source = NULL, event_seq = NULL WHERE event_source = ?", arguments: [source])
                try db.execute(
                    sql: "UPDATE threshold_hit SET event_source = NULL, event_seq = NULL, ordinal = NULL WHERE event_source = ?",
                    arguments: [source])
            }
        } catch {
            throw Error(description: "forgetting event seqs: \(error)")
        }
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
