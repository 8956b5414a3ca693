import ATProto
import Foundation
import GRDB

/// Where a report stands: `open` until someone looks at it; `escalated` when it needs a second
/// look; `resolved` when something was done; `dismissed` when nothing needed doing.
public enum ReportState: String, Sendable, CaseIterable {
    case open, escalated, resolved, dismissed

    /// Still waiting for someone: open or escalated.
    public var isOpen: Bool { self == .open || self == .escalated }
}

/// What is reported: an account (`com.atproto.admin.defs#repoRef`, by DID) or a record
/// (`com.atproto.repo.strongRef`, by at:// URI and the CID the reporter saw).
public enum ReportSubject: Sendable, Hashable {
    case account(did: String)
    case record(uri: String, cid: String)

    /// The DID or the URI: what makes two reports of one reporter the same report.
    public var key: String {
        switch self {
        case .account(let did): did
        case .record(let uri, _): uri
        }
    }

    /// `account` or `record`, as stored and as `reports.subject_types` names them.
    public var type: String {
        switch self {
        case .account: "account"
        case .record: "record"
        }
    }

    /// The account the subject belongs to: the account itself, or the repository of the record.
    public var ownerDID: String {
        switch self {
        case .account(let did): return did
        case .record(let uri, _):
            let path = uri.hasPrefix("at://") ? uri.dropFirst(5) : uri[...]
            return String(path.prefix { $0 != "/" })
        }
    }

    /// The lexicon's subject union, as JSON (the createReport output echoes it).
    public var json: String {
        switch self {
        case .account(let did):
            #"{"$type":"com.atproto.admin.defs#repoRef","did":"# + DataModelJSON.quote(did) + "}"
        case .record(let uri, let cid):
            #"{"$type":"com.atproto.repo.strongRef","uri":"# + DataModelJSON.quote(uri) + #","cid":"#
                + DataModelJSON.quote(cid) + "}"
        }
    }
}

/// A report as stored.
public struct StoredReport: Sendable, Equatable {
    public var id: Int64
    public var reasonType: String
    public var reason: String?
    public var subject: ReportSubject
    public var reportedBy: String
    public var state: ReportState
    /// Filed while its reporter was muted: kept, but out of review unless asked for.
    public var muted: Bool
    public var createdAt: String
    public var updatedAt: String
    /// For an appeal, the labels on the subject when it was filed (what it appeals); nil for
    /// other reports.
    public var appeal: [AppealedLabel]?

    /// The reason types that make a report an appeal (when its subject's own account sends it).
    public static let appealReasonTypes = ReportReasonType.appeal
}

/// A label an appeal is about, as it was when the appeal was filed.
public struct AppealedLabel: Sendable, Equatable {
    public var seq: Int64
    public var src: String
    public var uri: String
    public var cid: String?
    public var val: String

    var json: String {
        #"{"val":"# + DataModelJSON.quote(val) + #","uri":"# + DataModelJSON.quote(uri) + #","cid":"#
            + (cid.map(DataModelJSON.quote) ?? "null") + #","src":"# + DataModelJSON.quote(src) + #","seq":"#
            + String(seq) + "}"
    }
}

extension StoredReport {
    /// One JSON object on one line, for `labeler reports list --json` and scripts reading it:
    /// `id, reason_type, reason, subject` (the DID or URI), `subject_cid, reported_by, state,
    /// muted, created_at, updated_at, appeal` (null for a report that is not an appeal; for an
    /// appeal, the labels it is about: `[{val, uri, cid, src, seq}]`).
    public var jsonLine: String {
        var json = #"{"id":"# + String(id)
        json += #","reason_type":"# + DataModelJSON.quote(reasonType)
        json += #","reason":"# + (reason.map(DataModelJSON.quote) ?? "null")
        json += #","subject":"# + DataModelJSON.quote(subject.key)
        if case .record(_, let cid) = subject {
            json += #","subject_cid":"# + DataModelJSON.quote(cid)
        } else {
            json += #","subject_cid":null"#
        }
        json += #","reported_by":"# + DataModelJSON.quote(reportedBy)
        json += #","state":"# + DataModelJSON.quote(state.rawValue)
        json += #","muted":"# + (muted ? "true" : "false")
        json += #","created_at":"# + DataModelJSON.quote(createdAt)
        json += #","updated_at":"# + DataModelJSON.quote(updatedAt)
        json += #","appeal":"# + (appeal.map { "[" + $0.map(\.json).joined(separator: ",") + "]" } ?? "null") + "}"
        return json
    }
}

extension ReportAction {
    /// One JSON object on one line, for `labeler reports show --json`.
    public var jsonObject: String {
        func text(_ value: String?) -> String { value.map(DataModelJSON.quote) ?? "null" }
        return #"{"action":"# + DataModelJSON.quote(action) + #","actor":"# + text(actor) + #","reason_type":"#
            + text(reasonType) + #","reason":"# + text(reason) + #","note":"# + text(note) + #","created_at":"#
            + DataModelJSON.quote(createdAt) + "}"
    }
}

/// One entry of a report's history: its filing, each repeat by the same reporter, each change of
/// state.
public struct ReportAction: Sendable, Equatable {
    public var id: Int64
    /// `filed`, `repeated`, or the state it moved to.
    public var action: String
    public var actor: String?
    public var reasonType: String?
    /// The reporter's text for `filed` and `repeated`; what was done (the label and its seq) for
    /// `resolved`.
    public var reason: String?
    public var note: String?
    public var createdAt: String
}

/// A report to file.
public struct NewReport: Sendable, Equatable {
    public var reasonType: String
    public var reason: String?
    public var subject: ReportSubject
    public var reportedBy: String
    public var createdAt: String

    public init(reasonType: String, reason: String?, subject: ReportSubject, reportedBy: String, createdAt: String) {
        self.reasonType = reasonType
        self.reason = reason
        self.subject = subject
        self.reportedBy = reportedBy
        self.createdAt = createdAt
    }
}

extension LabelStore {
    /// Files a report, or, when this reporter already reported this subject, records the repeat
    /// on that report and returns it. A report from a reporter muted at its `createdAt` is stored
    /// muted. Reports are not labels: they do not go through the label writer, and one
    /// transaction per report is enough for their rate.
    ///
    /// - Returns: the stored report and whether it was already there.
    public func fileReport(_ report: NewReport) throws(Error) -> (report: StoredReport, deduplicated: Bool) {
        do {
            return try pool.write { db in
                if let existing = try Row.fetchOne(
                    db, sql: "SELECT * FROM report WHERE reported_by = ? AND subject = ?",
                    arguments: [report.reportedBy, report.subject.key])
                {
                    let stored = try Self.storedReport(existing, db)
                    try Self.recordAction(
                        db, report: stored.id, action: "repeated", actor: report.reportedBy,
                        reasonType: report.reasonType, reason: report.reason, note: nil, at: report.createdAt)
                    return (stored, true)
                }
                let cid: String? =
                    if case .record(_, let cid) = report.subject { cid } else { nil }
                let muted = try Self.mute(db, did: report.reportedBy, at: report.createdAt) != nil
                try db.execute(
                    sql: """
                        INSERT INTO report (reason_type, reason, subject_type, subject, subject_cid, reported_by,
                            state, muted, created_at, updated_at, rules_pending)
                        VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, 1)
                        """,
                    arguments: [
                        report.reasonType, report.reason, report.subject.type, report.subject.key, cid,
                        report.reportedBy, muted, report.createdAt, report.createdAt,
                    ])
                let id = db.lastInsertedRowID
                try Self.recordAction(
                    db, report: id, action: "filed", actor: report.reportedBy, reasonType: report.reasonType,
                    reason: report.reason, note: nil, at: report.createdAt)
                let appeal = try Self.linkAppeal(
                    db, report: id, reasonType: report.reasonType,
                    subject: report.subject, at: report.createdAt)
                return (
                    StoredReport(
                        id: id, reasonType: report.reasonType, reason: report.reason, subject: report.subject,
                        reportedBy: report.reportedBy, state: .open, muted: muted, createdAt: report.createdAt,
                        updatedAt: report.createdAt, appeal: appeal),
                    false
                )
            }
        } catch {
            throw Error("storing a report", error)
        }
    }

    /// Reports, newest first. `subject` is a DID or an at:// URI: a DID finds the reports of the
    /// account and of every record in its repository. `muted`: only the reports filed while their
    /// reporter was muted, which are otherwise left out.
    public func reports(state: ReportState? = nil, subject: String? = nil, muted: Bool = false, limit: Int = 1000)
        throws(Error) -> [StoredReport]
    {
        var conditions: [String] = ["muted = ?"]
        var arguments: StatementArguments = [muted]
        if let state {
            conditions.append("state = ?")
            arguments += [state.rawValue]
        }
        if let subject {
            if subject.hasPrefix("did:") {
                conditions.append("(subject = ? OR (subject >= ? AND subject < ?))")
                let prefix = "at://" + subject + "/"
                // Every URI of the repository sorts between `at://did/` and `at://did0`.
                arguments += [subject, prefix, "at://" + subject + "0"]
            } else {
                conditions.append("subject = ?")
                arguments += [subject]
            }
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        arguments += [limit]
        do {
            return try pool.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT * FROM report \(whereClause) ORDER BY id DESC LIMIT ?", arguments: arguments
                ).map { try Self.storedReport($0, db) }
            }
        } catch {
            throw Error("reading reports", error)
        }
    }

    /// One report, or nil when there is none with that id.
    public func report(id: Int64) throws(Error) -> StoredReport? {
        do {
            return try pool.read { db in
                try Row.fetchOne(db, sql: "SELECT * FROM report WHERE id = ?", arguments: [id]).map {
                    try Self.storedReport($0, db)
                }
            }
        } catch {
            throw Error("reading report \(id)", error)
        }
    }

    /// A report's history, oldest first.
    public func reportActions(id: Int64) throws(Error) -> [ReportAction] {
        do {
            return try pool.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT * FROM report_action WHERE report_id = ? ORDER BY id", arguments: [id]
                ).map { row in
                    ReportAction(
                        id: row["id"], action: row["action"], actor: row["actor"], reasonType: row["reason_type"],
                        reason: row["reason"], note: row["note"], createdAt: row["created_at"])
                }
            }
        } catch {
            throw Error("reading the history of report \(id)", error)
        }
    }

    /// Closes an open or escalated report as `resolved` or `dismissed`, with a history entry
    /// naming who did it, why (`note`) and what was done (`outcome`). A report already closed is
    /// refused, so two people resolving one report do not both act on it unnoticed.
    public func closeReport(
        id: Int64, as state: ReportState, actor: String?, note: String?, outcome: String?, at time: String
    ) throws(Error) -> StoredReport {
        guard state == .resolved || state == .dismissed else {
            throw Error(description: "a report is closed as resolved or dismissed, not \(state.rawValue)")
        }
        do {
            return try pool.write { db in
                guard let row = try Row.fetchOne(db, sql: "SELECT * FROM report WHERE id = ?", arguments: [id]) else {
                    throw Error(description: "no report \(id)")
                }
                var report = try Self.storedReport(row, db)
                guard report.state.isOpen else {
                    throw Error(description: "report \(id) is already \(report.state.rawValue)")
                }
                try db.execute(
                    sql: "UPDATE report SET state = ?, updated_at = ? WHERE id = ?",
                    arguments: [state.rawValue, time, id])
                try Self.recordAction(
                    db, report: id, action: state.rawValue, actor: actor, reasonType: nil, reason: outcome, note: note,
                    at: time)
                report.state = state
                report.updatedAt = time
                return report
            }
        } catch {
            throw Error("closing report \(id)", error)
        }
    }

    /// How many reports are stored.
    public func reportCount() throws(Error) -> Int {
        do {
            return try pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM report") ?? 0 }
        } catch {
            throw Error("counting reports", error)
        }
    }

    static func recordAction(
        _ db: Database, report: Int64, action: String, actor: String?, reasonType: String?, reason: String?,
        note: String?, at time: String
    ) throws {
        try db.execute(
            sql: """
                INSERT INTO report_action (report_id, action, actor, reason_type, reason, note, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [report, action, actor, reasonType, reason, note, time])
    }

    /// For an appeal, links the labels on its subject now (unexpired, not negated) to the report
    /// and returns them; nil for any other report.
    static func linkAppeal(_ db: Database, report: Int64, reasonType: String, subject: ReportSubject, at time: String)
        throws -> [AppealedLabel]?
    {
        guard StoredReport.appealReasonTypes.contains(reasonType) else { return nil }
        let rows = try Row.fetchAll(
            db,
            sql:
                "SELECT seq, src, uri, cid, val FROM label WHERE uri = ? AND neg = 0 AND (exp IS NULL OR exp > ?) ORDER BY seq",
            arguments: [subject.key, time])
        let labels = rows.map { row in
            let cid: String = row["cid"]
            return AppealedLabel(
                seq: row["seq"], src: row["src"], uri: row["uri"], cid: cid.isEmpty ? nil : cid, val: row["val"])
        }
        for label in labels {
            try db.execute(
                sql: "INSERT INTO report_label (report_id, seq, src, uri, cid, val) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [report, label.seq, label.src, label.uri, label.cid, label.val])
        }
        return labels
    }

    static func storedReport(_ row: Row, _ db: Database) throws -> StoredReport {
        let stateText: String = row["state"]
        guard let state = ReportState(rawValue: stateText) else {
            throw Error(description: "report \(row["id"] as Int64) has an unknown state \(stateText)")
        }
        let subjectType: String = row["subject_type"]
        let key: String = row["subject"]
        let cid: String? = row["subject_cid"]
        let subject: ReportSubject = subjectType == "account" ? .account(did: key) : .record(uri: key, cid: cid ?? "")
        let id: Int64 = row["id"]
        let reasonType: String = row["reason_type"]
        let appeal =
            try StoredReport.appealReasonTypes.contains(reasonType)
            ? Row.fetchAll(
                db, sql: "SELECT * FROM report_label WHERE report_id = ? ORDER BY seq", arguments: [id]
            ).map { row in
                AppealedLabel(seq: row["seq"], src: row["src"], uri: row["uri"], cid: row["cid"], val: row["val"])
            } : nil
        return StoredReport(
            id: row["id"], reasonType: row["reason_type"], reason: row["reason"], subject: subject,
            reportedBy: row["reported_by"], state: state, muted: row["muted"], createdAt: row["created_at"],
            updatedAt: row["updated_at"], appeal: appeal)
    }
}
