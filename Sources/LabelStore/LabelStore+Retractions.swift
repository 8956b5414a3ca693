import ATProto
import GRDB

/// Mass retraction (`labeler labels retract`): which applied labels a retraction takes back, and
/// its progress, so a run stopped at any moment (SIGKILL included) finishes on the next run with
/// no label negated twice and none missed.
///
/// A retraction first records its targets, each with the seq its label row had then, in one
/// transaction. A target is negated only while its row still has that seq: once negated (by this
/// retraction in a run that died before noting its progress, or by anyone else), or changed in any
/// way, the row has a new seq and the target is skipped. Progress (`done_through`) only saves
/// work; the seq is what makes a rerun exact.
extension LabelStore {
    /// Which applied labels to retract; at least one of `ruleID`, `val` and `uri` is set.
    public struct RetractionCriteria: Sendable, Hashable, CustomStringConvertible {
        /// The rule whose application is the label's latest.
        public var ruleID: String?
        public var val: String?
        /// An exact URI or DID, or a prefix ending in `*`.
        public var uri: String?
        /// Only labels whose latest application is at or after this instant.
        public var since: Datetime?

        public init(ruleID: String? = nil, val: String? = nil, uri: String? = nil, since: Datetime? = nil) {
            self.ruleID = ruleID
            self.val = val
            self.uri = uri
            self.since = since
        }

        /// The criteria as stored and shown: `rule=… val=… uri=… since=…`, the unset ones left out.
        /// Two runs with the same text are the same retraction.
        public var description: String {
            var parts: [String] = []
            if let ruleID { parts.append("rule=\(ruleID)") }
            if let val { parts.append("val=\(val)") }
            if let uri { parts.append("uri=\(uri)") }
            if let since { parts.append("since=\(since.rawValue)") }
            return parts.joined(separator: " ")
        }
    }

    /// One applied label a retraction takes back, as it was when the retraction began.
    public struct RetractionTarget: Sendable, Hashable {
        /// Its position in the retraction (1, 2, …).
        public var ordinal: Int64
        /// The label row's seq when the retraction began.
        public var seq: Int64
        public var src: String
        public var uri: String
        /// `nil`: the label is on every version of the record.
        public var cid: String?
        public var val: String
        /// The rule of its latest application (`nil`: a person applied it).
        public var ruleID: String?
        /// When it was last applied.
        public var appliedAt: String
    }

    /// A retraction and how far it got.
    public struct Retraction: Sendable, Hashable {
        public var id: Int64
        public var criteria: String
        public var targets: Int64
        /// Targets up to this ordinal are handled.
        public var doneThrough: Int64
        public var finished: Bool
    }

    /// Applied labels of `src` whose latest application matches `criteria`, in seq order.
    public func retractionCandidates(src: String, _ criteria: RetractionCriteria) throws(Error) -> [RetractionTarget] {
        var filters = SQLConditions()
        filters.add("l.neg = 0")
        filters.add("l.src = ?", src)
        filters.add("l.val = ?", criteria.val)
        filters.add(uri: criteria.uri, column: "l.uri")
        // The latest application of each label: the newest 'apply' row of its history.
        let sql = """
            SELECT l.seq, l.src, l.uri, l.cid, l.val, h.rule_id, h.created_at
            FROM label l
            JOIN label_history h ON h.id = (
                SELECT MAX(id) FROM label_history
                WHERE uri = l.uri AND src = l.src AND cid = l.cid AND val = l.val AND action = 'apply')
            WHERE \(filters.sql)
            ORDER BY l.seq
            """
        let rows: [Row]
        do {
            rows = try pool.read { db in
                try Row.fetchAll(db, sql: sql, arguments: StatementArguments(filters.arguments))
            }
        } catch {
            throw Error("reading the labels to retract", error)
        }
        var targets: [RetractionTarget] = []
        for row in rows {
            let ruleID: String? = row["rule_id"]
            if let wanted = criteria.ruleID, ruleID != wanted { continue }
            let appliedAt: String = row["created_at"]
            if let since = criteria.since {
                // Stored times are the writer's own; one that does not parse is kept, not guessed.
                guard let applied = try? Datetime(appliedAt), applied >= since else { continue }
            }
            let cid: String = row["cid"]
            targets.append(
                RetractionTarget(
                    ordinal: Int64(targets.count + 1), seq: row["seq"], src: row["src"], uri: row["uri"],
                    cid: cid.isEmpty ? nil : cid, val: row["val"], ruleID: ruleID, appliedAt: appliedAt))
        }
        return targets
    }

    /// The unfinished retraction with these criteria, if a run of it stopped before the end.
    public func unfinishedRetraction(_ criteria: RetractionCriteria) throws(Error) -> Retraction? {
        do {
            return try pool.read { db in
                try Row.fetchOne(
                    db,
                    sql: """
                        SELECT r.id, r.criteria, r.done_through, r.finished_at,
                               (SELECT COUNT(*) FROM retraction_target t WHERE t.retraction_id = r.id) AS targets
                        FROM retraction r WHERE r.criteria = ? AND r.finished_at IS NULL ORDER BY r.id DESC LIMIT 1
                        """,
                    arguments: [criteria.description]
                ).map(Self.retraction)
            }
        } catch {
            throw Error("reading retractions", error)
        }
    }

    /// Records a retraction and its targets in one transaction; returns it.
    public func beginRetraction(
        _ criteria: RetractionCriteria, targets: [RetractionTarget], at time: Datetime
    ) throws(Error) -> Retraction {
        do {
            return try pool.write { db in
                try db.execute(
                    sql: "INSERT INTO retraction (criteria, created_at, done_through) VALUES (?, ?, 0)",
                    arguments: [criteria.description, time.rawValue])
                let id = db.lastInsertedRowID
                let insert = try db.makeStatement(
                    sql: """
                        INSERT INTO retraction_target (retraction_id, ordinal, seq, src, uri, cid, val, rule_id, applied_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """)
                for target in targets {
                    try insert.execute(arguments: [
                        id, target.ordinal, target.seq, target.src, target.uri, target.cid ?? "", target.val,
                        target.ruleID, target.appliedAt,
                    ])
                }
                return Retraction(
                    id: id, criteria: criteria.description, targets: Int64(targets.count), doneThrough: 0,
                    finished: false)
            }
        } catch {
            throw Error("recording the retraction", error)
        }
    }

    /// Up to `limit` targets after `ordinal`, each with whether its label row still has the seq
    /// it had when the retraction began (only those are negated).
    public func retractionTargets(
        of retractionID: Int64, after ordinal: Int64, limit: Int
    ) throws(Error) -> [(target: RetractionTarget, unchanged: Bool)] {
        do {
            return try pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT t.*, EXISTS (SELECT 1 FROM label l WHERE l.seq = t.seq AND l.neg = 0) AS unchanged
                        FROM retraction_target t
                        WHERE t.retraction_id = ? AND t.ordinal > ? ORDER BY t.ordinal LIMIT ?
                        """,
                    arguments: [retractionID, ordinal, limit]
                ).map { row in
                    let cid: String = row["cid"]
                    let target = RetractionTarget(
                        ordinal: row["ordinal"], seq: row["seq"], src: row["src"], uri: row["uri"],
                        cid: cid.isEmpty ? nil : cid, val: row["val"], ruleID: row["rule_id"],
                        appliedAt: row["applied_at"])
                    return (target, row["unchanged"] as Bool)
                }
            }
        } catch {
            throw Error("reading the retraction's targets", error)
        }
    }

    /// Notes that the targets up to `ordinal` are handled; with `finished`, that all are.
    public func noteRetractionProgress(
        _ retractionID: Int64, doneThrough ordinal: Int64, finishedAt: Datetime?
    ) throws(Error) {
        do {
            try pool.write { db in
                try db.execute(
                    sql: "UPDATE retraction SET done_through = MAX(done_through, ?), finished_at = ? WHERE id = ?",
                    arguments: [ordinal, finishedAt?.rawValue, retractionID])
            }
        } catch {
            throw Error("noting the retraction's progress", error)
        }
    }

    static func retraction(_ row: Row) -> Retraction {
        let finishedAt: String? = row["finished_at"]
        return Retraction(
            id: row["id"], criteria: row["criteria"], targets: row["targets"], doneThrough: row["done_through"],
            finished: finishedAt != nil)
    }
}
