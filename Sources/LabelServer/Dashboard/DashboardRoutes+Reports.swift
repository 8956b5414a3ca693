import ATProto
import Foundation
import Hummingbird
import HummingbirdCore
import LabelStore

/// The Reports page: the review queue (open and escalated reports, newest first) and its
/// actions, as `labeler reports resolve` does them: label the subject, negate a label on it, or
/// dismiss. Labels go through the writer with the report's id, so `labels explain` names it.
extension DashboardRoutes {
    func reportsPage(_ session: DashboardSessions.Session, query: FlatDictionary<Substring, Substring>) throws -> String
    {
        let all = query["state"].map(String.init) == "all"
        let reports = try all ? store.reports(limit: 200) : store.reports(limit: 1000).filter { $0.state.isOpen }
        let done = query["done"].flatMap { Int64(String($0)) }
        let message = done.map { "Report \($0) closed." }
        return DashboardPages.reports(
            reports: Array(reports.prefix(200)), showingAll: all, message: message, csrfToken: session.csrfToken)
    }

    /// Closes one report: `op` is `label`, `negate` or `dismiss`; `val` the label value for the
    /// first two, `note` why.
    func resolveReport(form: [String: String], context: ServerRequestContext) async -> Response {
        func refuse(_ message: String, status: HTTPResponse.Status = .badRequest) -> Response {
            DashboardHTTP.html(DashboardPages.problem(message, csrfToken: nil), status: status)
        }
        guard let id = form["id"].flatMap({ Int64($0) }) else { return refuse("Which report? (no id)") }
        let op = form["op"] ?? ""
        guard ["label", "negate", "dismiss"].contains(op) else { return refuse("Unknown action \"\(op)\".") }
        let note = form["note"].flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 }
        let val = (form["val"] ?? "").trimmingCharacters(in: .whitespaces)
        let report: StoredReport
        do {
            guard let found = try store.report(id: id) else { return refuse("No report \(id).", status: .notFound) }
            report = found
        } catch {
            return refuse(error.description, status: .internalServerError)
        }
        // Checked before any label is written; `closeReport` checks again in its transaction.
        guard report.state.isOpen else {
            return refuse("Report \(id) is already \(report.state.rawValue).", status: .conflict)
        }
        var outcome: String? = nil
        if op != "dismiss" {
            guard EmitEventRequest.isValidLabelValue(val) else {
                return refuse("\"\(val)\" is not a label value (lowercase letters, digits and -).")
            }
            do {
                outcome = try await changeLabels(of: report, op: op, val: val, note: note)
            } catch let failure as ReportRefusal {
                return refuse(failure.message)
            } catch {
                context.logger.error("dashboard report action failed", metadata: ["error": "\(error)"])
                return refuse("The label writer refused the change: \(error)", status: .internalServerError)
            }
        }
        do {
            _ = try store.closeReport(
                id: id, as: op == "dismiss" ? .dismissed : .resolved, actor: Self.actor, note: note, outcome: outcome,
                at: Datetime.now().rawValue)
        } catch {
            return refuse(error.description, status: .conflict)
        }
        context.logger.info(
            "report closed", metadata: ["id": "\(id)", "actor": "\(Self.actor)", "outcome": "\(outcome ?? op)"])
        return DashboardHTTP.redirect("/reports?done=\(id)")
    }

    struct ReportRefusal: Error {
        let message: String
    }

    /// Applies `val` to the report's subject, or negates it on every version it is on; returns
    /// what was done, in words, for the report's history.
    func changeLabels(of report: StoredReport, op: String, val: String, note: String?) async throws -> String {
        let subject: LabelSubject
        do { subject = try LabelSubject(report.subject.key) } catch {
            throw ReportRefusal(message: "The report's subject \(report.subject.key) is not a label subject.")
        }
        let origin = LabelChange.Origin.manual(actor: Self.actor)
        // Why the label changed, in its history: the note, else for an appeal that it was granted.
        let reason = note ?? (report.appeal != nil && op == "negate" ? "appeal \(report.id) granted" : nil)
        let changes: [LabelChange]
        if op == "label" {
            changes = [
                LabelChange(
                    action: .apply, subject: subject, val: val, origin: origin, reason: reason, reportID: report.id)
            ]
        } else {
            let current = try store.activeVersions(of: val, on: subject, now: Datetime.now().rawValue)
            guard !current.isEmpty else { throw ReportRefusal(message: "\(subject) has no label \(val) to negate.") }
            changes = current.map {
                LabelChange(
                    action: .negate, subject: subject, cid: $0.label.cid, val: val, origin: origin, reason: reason,
                    reportID: report.id)
            }
        }
        let rows = try await submit(changes)
        let verb = op == "label" ? "applied" : "negated"
        guard !rows.isEmpty else { return "\(val) was already \(verb) (or waits in the global budget's queue)" }
        return "\(verb) \(val) (seq \(rows.map { String($0.seq) }.joined(separator: ", ")))"
    }
}

extension DashboardPages {
    static func reports(reports: [StoredReport], showingAll: Bool, message: String?, csrfToken: String) -> String {
        var html = """
            <section><h2>Reports</h2>
            <p class="muted">\(showingAll ? "All reports, newest first (200 at most). <a href=\"/reports\">The queue</a>" : "The queue: open and escalated reports, newest first. <a href=\"/reports?state=all\">All reports</a>")</p>
            """
        if let message { html += "<p class=\"message\" id=\"message\">\(E.escape(message))</p>" }
        if reports.isEmpty {
            html += "<p class=\"muted\" id=\"no-reports\">No report to review.</p>"
        }
        for report in reports {
            let subject = report.subject.key
            html += """
                <article class="report \(report.state.rawValue)" data-report="\(report.id)">
                <h3>#\(report.id) <span class="state">\(report.state.rawValue)</span> \
                <span class="val">\(E.escape(report.reasonType.split(separator: "#").last.map(String.init) ?? report.reasonType))</span> \
                <a class="uri" href="/labels?uri=\(E.escape(E.queryComponent(subject)))">\(E.escape(subject))</a></h3>
                <p class="meta">\(E.escape(report.createdAt)) · by \(E.escape(report.reportedBy))\(report.muted ? " · muted reporter" : "")</p>
                """
            if let reason = report.reason, !reason.isEmpty { html += "<blockquote>\(E.escape(reason))</blockquote>" }
            if let appeal = report.appeal {
                let labels = appeal.map { E.escape($0.val) }.joined(separator: ", ")
                html += "<p>Appeal of: \(labels.isEmpty ? "no label" : labels)</p>"
            }
            if report.state.isOpen {
                html += """
                    <form method="post" action="/reports/resolve" class="report-action">
                    <input type="hidden" name="csrf" value="\(E.escape(csrfToken))">
                    <input type="hidden" name="id" value="\(report.id)">
                    <input name="val" placeholder="label value">
                    <input name="note" placeholder="note (kept in the history)">
                    <button type="submit" name="op" value="label">Label</button>
                    <button type="submit" name="op" value="negate" class="negate">Negate</button>
                    <button type="submit" name="op" value="dismiss">Dismiss</button>
                    </form>
                    """
            }
            html += "</article>"
        }
        return layout(title: "Reports", csrfToken: csrfToken, active: "/reports", html + "</section>")
    }
}
