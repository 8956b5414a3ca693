import ATProto
import GRDB

/// What the rules on reports decided about one report, stored in one transaction with the mark
/// that it was evaluated (see ``LabelStore/finishReportRules(_:outcome:at:)``).
public struct ReportRulesOutcome: Sendable, Equatable {
    /// A threshold rule whose condition held on the report: its reporter now counts toward the
    /// rule's threshold on the report's subject.
    public struct Hit: Sendable, Equatable {
        public var rule: String
        /// What the rule counts reporters of: the reported DID or URI, or the account.
        public var subject: String
        /// The rule's window in microseconds; older hits on the subject are forgotten.
        public var window: Int64

        public init(rule: String, subject: String, window: Int64) {
            self.rule = rule
            self.subject = subject
            self.window = window
        }
    }

    /// A rule with `escalate: true` that fired on the report.
    public struct Escalation: Sendable, Equatable {
        public var rule: String
        /// What the rule counts reporters of (see ``Hit/subject``).
        public var subject: String
        /// For a threshold rule, the start of its window (microseconds): the reports that counted
        /// toward it are escalated too (when still open). Nil: only this report.
        public var reportersSince: Int64?

        public init(rule: String, subject: String, reportersSince: Int64?) {
            self.rule = rule
            self.subject = subject
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

    /// How many of `reporter`'s reports filed before report `id` were dismissed: the standing
    /// `reporter:` conditions read.
    public func dismissedReportCount(by reporter: String, before id: Int64 = .max) throws(Error) -> Int {
        do {
            return try pool.read { db in
                try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM report WHERE reported_by = ? AND state = 'dismissed' AND id < ?",
                    arguments: [reporter, id]) ?? 0
            }
        } catch {
            throw Error("counting the dismissed reports of \(reporter)", error)
        }
    }

    /// How many distinct reporters other than `excluding` have reports on `subject` (a DID or an
    /// at:// URI) that matched rule `rule` at or after `since` (microseconds). A report a person
    /// dismissed no longer counts.
    public func reportRuleReporters(rule: String, subject: String, since: Int64, excluding reporter: String)
        throws(Error) -> Int
    {
        do {
            return try pool.read { db in
                try Int.fetchOne(
                    db,
                    sql: """
                        SELECT count(*) FROM report_rule_hit h JOIN report r ON r.id = h.report_id
                        WHERE h.rule = ? AND h.subject = ? AND h.at >= ? AND h.reporter != ? AND r.state != 'dismissed'
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
    /// entry naming the rule, at `now`. A report already evaluated is left alone (nothing is
    /// counted twice).
    ///
    /// - Returns: the ids of the reports escalated.
    @discardableResult
    public func finishReportRules(_ report: StoredReport, outcome: ReportRulesOutcome, at time: Int64, now: String)
        throws(Error) -> [Int64]
    {
        do {
            return try pool.write { db in
                let pending =
                    try Bool.fetchOne(db, sql: "SELECT rules_pending FROM report WHERE id = ?", arguments: [report.id])
                    ?? false
                guard pending else { return [] }
                for hit in outcome.hits {
                    try db.execute(
                        sql: """
                            INSERT INTO report_rule_hit (rule, subject, reporter, at, report_id) VALUES (?, ?, ?, ?, ?)
                            ON CONFLICT (rule, subject, reporter) DO UPDATE SET at = excluded.at,
                                report_id = excluded.report_id
                            WHERE excluded.at >= at
                            """,
                        arguments: [hit.rule, hit.subject, report.reportedBy, time, report.id])
                    try db.execute(
                        sql: "DELETE FROM report_rule_hit WHERE rule = ? AND subject = ? AND at < ?",
                        arguments: [hit.rule, hit.subject, time - hit.window])
                }
                var escalated: [Int64] = []
                for escalation in outcome.escalations {
                    var ids = [report.id]
                    if let since = escalation.reportersSince {
                        ids += try Int64.fetchAll(
                            db,
                            sql: "SELECT report_id FROM report_rule_hit WHERE rule = ? AND subject = ? AND at >= ?",
                            arguments: [escalation.rule, escalation.subject, since])
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

    /// Forgets threshold hits no rule can count any more: those of rules not in `windows` (rule
    /// id → its window in microseconds; removed from the rules, or without a threshold now) and
    /// those older than their rule's window at `now`. Only to be called when no report is waiting
    /// for the rules (a waiting report is older than `now` and may still count older hits).
    ///
    /// - Returns: how many were forgotten.
    @discardableResult
    public func pruneReportRuleHits(windows: [String: Int64], now: Int64) throws(Error) -> Int {
        do {
            return try pool.write { db in
                try Self.pruneRuleRows(
                    db, table: "report_rule_hit", rule: "rule", time: "at", rules: windows.mapValues { Int64?($0) },
                    forgetUnlisted: true, reference: now, limit: nil)
            }
        } catch {
            throw Error("forgetting old report rule hits", error)
        }
    }
}
