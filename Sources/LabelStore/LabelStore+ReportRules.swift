import ATProto
import GRDB

/// What the rules on reports decided about one report, stored in one transaction with the mark
/// that it was evaluated (see ``LabelStore/finishReportRules(_:outcome:at:)``).
public struct ReportRulesOutcome: Sendable, Equatable {
    /// A threshold rule whose condition held on the report: its reporter now counts toward the
    /// rule's threshold on the report's subject.
    public struct Hit: Sendable, Equatable {
        public var rule: String
        /// The rule's window in microseconds; older hits on the subject are forgotten.
        public var window: Int64

        public init(rule: String, window: Int64) {
            self.rule = rule
            self.window = window
        }
    }

    /// A rule with `escalate: true` that fired on the report.
    public struct Escalation: Sendable, Equatable {
        public var rule: String
        /// For a threshold rule, the start of its window (microseconds): the open reports of the
        /// subject whose reporters counted toward it are escalated too. Nil: only this report.
        public var reportersSince: Int64?

        public init(rule: String, reportersSince: Int64?) {
            self.rule = rule
            self.reportersSince = reportersSince
        }
    }

    public var hits: [Hit] = []
    public var escalations: [Escalation] = []

    public init(hits: [Hit] = [], escalations: [Escalation] = []) {
        self.hits = hits
        self.escalations = escalations
    }
}

extension LabelStore {
    /// Reports filed and not yet evaluated by the rules on reports, oldest first.
    public func reportsAwaitingRules(limit: Int = 100) throws(Error) -> [StoredReport] {
        do {
            return try pool.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT * FROM report WHERE rules_pending = 1 ORDER BY id LIMIT ?", arguments: [limit]
                ).map { try Self.storedReport($0, db) }
            }
        } catch {
            throw Error("reading the reports waiting for rules", error)
        }
    }

    /// How many of `reporter`'s reports were dismissed: the standing `reporter:` conditions read.
    public func dismissedReportCount(by reporter: String) throws(Error) -> Int {
        do {
            return try pool.read { db in
                try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM report WHERE reported_by = ? AND state = 'dismissed'",
                    arguments: [reporter]) ?? 0
            }
        } catch {
            throw Error("counting the dismissed reports of \(reporter)", error)
        }
    }

    /// How many distinct reporters other than `excluding` have reports on `subject` (a DID or an
    /// at:// URI) that matched rule `rule` at or after `since` (microseconds).
    public func reportRuleReporters(rule: String, subject: String, since: Int64, excluding reporter: String)
        throws(Error) -> Int
    {
        do {
            return try pool.read { db in
                try Int.fetchOne(
                    db,
                    sql: """
                        SELECT count(*) FROM report_rule_hit
                        WHERE rule = ? AND subject = ? AND at >= ? AND reporter != ?
                        """,
                    arguments: [rule, subject, since, reporter]) ?? 0
            }
        } catch {
            throw Error("counting the reporters of \(subject) for rule \(rule)", error)
        }
    }

    /// Records what the rules decided about `report` (filed at `time`, microseconds) and marks it
    /// evaluated, in one transaction: its reporter counts toward each hit rule's threshold on the
    /// subject, and each escalation moves the open reports it names to `escalated`, with a history
    /// entry naming the rule. A report already evaluated is left alone (nothing is counted twice).
    ///
    /// - Returns: the ids of the reports escalated.
    @discardableResult
    public func finishReportRules(_ report: StoredReport, outcome: ReportRulesOutcome, at time: Int64) throws(Error)
        -> [Int64]
    {
        let subject = report.subject.key
        let now = Datetime(unixMicros: time).rawValue
        do {
            return try pool.write { db in
                let pending =
                    try Bool.fetchOne(db, sql: "SELECT rules_pending FROM report WHERE id = ?", arguments: [report.id])
                    ?? false
                guard pending else { return [] }
                for hit in outcome.hits {
                    try db.execute(
                        sql: """
                            INSERT INTO report_rule_hit (rule, subject, reporter, at) VALUES (?, ?, ?, ?)
                            ON CONFLICT (rule, subject, reporter) DO UPDATE SET at = max(at, excluded.at)
                            """,
                        arguments: [hit.rule, subject, report.reportedBy, time])
                    try db.execute(
                        sql: "DELETE FROM report_rule_hit WHERE rule = ? AND subject = ? AND at < ?",
                        arguments: [hit.rule, subject, time - hit.window])
                }
                var escalated: [Int64] = []
                for escalation in outcome.escalations {
                    var ids = [report.id]
                    if let since = escalation.reportersSince {
                        ids += try Int64.fetchAll(
                            db,
                            sql: """
                                SELECT id FROM report
                                WHERE subject = ? AND muted = 0 AND reported_by IN (
                                    SELECT reporter FROM report_rule_hit WHERE rule = ? AND subject = ? AND at >= ?)
                                """,
                            arguments: [subject, escalation.rule, subject, since])
                    }
                    for id in ids where !escalated.contains(id) {
                        try db.execute(
                            sql:
                                "UPDATE report SET state = 'escalated', updated_at = ? WHERE id = ? AND state = 'open'",
                            arguments: [now, id])
                        guard db.changesCount > 0 else { continue }
                        try Self.recordAction(
                            db, report: id, action: "escalated", actor: "rule:" + escalation.rule, reasonType: nil,
                            reason: nil, note: id == report.id ? nil : "with report \(report.id)", at: now)
                        escalated.append(id)
                    }
                }
                try db.execute(sql: "UPDATE report SET rules_pending = 0 WHERE id = ?", arguments: [report.id])
                return escalated
            }
        } catch {
            throw Error("storing what the rules decided about report \(report.id)", error)
        }
    }
}
