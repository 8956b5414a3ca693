import ATProto
import LabelStore

/// The dashboard's HTML, rendered on the server: every value from the store, the rules or a
/// form goes through `escape`. The pages load one stylesheet and one script, both served by
/// this server (`DashboardAssets`); nothing else is fetched.
enum DashboardPages {
    typealias E = DashboardHTTP

    /// The frame of every page; `csrfToken` (a logged-in page) adds the navigation and logout.
    static func layout(title: String, csrfToken: String?, active: String = "", _ body: String) -> String {
        var nav = ""
        if let csrfToken {
            let links = [("/", "Overview"), ("/labels", "Labels"), ("/rules", "Rules"), ("/reports", "Reports")].map {
                path, name in
                "<a href=\"\(path)\"\(path == active ? " class=\"active\"" : "")>\(name)</a>"
            }
            nav = """
                <nav>\(links.joined())
                <form method="post" action="/logout" class="logout"><input type="hidden" name="csrf" value="\(E.escape(csrfToken))">\
                <button type="submit" id="logout">Log out</button></form></nav>
                """
        }
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(E.escape(title)) · labeler</title>
            <link rel="stylesheet" href="\(DashboardAssets.stylePath)">
            </head><body>
            <header><h1>labeler</h1>\(nav)</header>
            <main>
            \(body)
            </main></body></html>
            """
    }

    /// Without an admin token nobody could log in: say how to turn the dashboard on.
    static func disabled() -> String {
        layout(
            title: "Dashboard disabled", csrfToken: nil,
            """
            <section class="notice" id="disabled">
            <h2>The dashboard is off</h2>
            <p>It opens only with an admin token. Set <code>server.admin_token</code> in the configuration \
            (or <code>LABELER_SERVER_ADMIN_TOKEN</code> in the service's environment) to a long random string \
            and restart <code>labeler run</code>; then log in here with that token.</p>
            </section>
            """)
    }

    static func login(error: String? = nil) -> String {
        let message = error.map { "<p class=\"error\" id=\"login-error\">\(E.escape($0))</p>" } ?? ""
        return layout(
            title: "Log in", csrfToken: nil,
            """
            <section class="login">
            <h2>Log in</h2>
            \(message)
            <form method="post" action="/login" id="login-form">
            <label for="token">Admin token (<code>server.admin_token</code>)</label>
            <input type="password" name="token" id="token" autocomplete="current-password" autofocus required>
            <button type="submit" id="login-button">Log in</button>
            </form>
            </section>
            """)
    }

    /// The charts the script fills: id, title, unit.
    static let charts: [(id: String, title: String, unit: String)] = [
        ("events", "Events", "/s"),
        ("labels", "Labels written, by value", "/s"),
        ("lag", "Cursor lag", "s"),
        ("rules", "Rule hits", "/s"),
        ("commit", "Writer commit time", "ms"),
        ("subscribers", "Subscribers", ""),
        ("queues", "Queue depth", ""),
    ]

    static func overview(storedLabels: Int, csrfToken: String) -> String {
        let figures = charts.map { chart in
            """
            <figure class="chart" id="chart-\(chart.id)" data-chart="\(chart.id)" data-unit="\(E.escape(chart.unit))" data-updates="0">
            <figcaption>\(E.escape(chart.title))<span class="now"></span></figcaption>
            <svg viewBox="0 0 600 150" preserveAspectRatio="none" role="img" aria-label="\(E.escape(chart.title))"></svg>
            <div class="legend"></div>
            </figure>
            """
        }
        return layout(
            title: "Overview", csrfToken: csrfToken, active: "/",
            """
            <section class="stats">
            <div class="stat"><span class="value" id="label-count">\(storedLabels)</span><span class="name">labels stored</span></div>
            <div class="stat"><span class="value" id="cursor">–</span><span class="name">cursor</span></div>
            <div class="stat"><span class="value" id="events-total">–</span><span class="name">events since start</span></div>
            </section>
            <section class="charts" id="charts" data-poll="\(DashboardAssets.pollMilliseconds)">
            \(figures.joined(separator: "\n"))
            </section>
            <p class="muted" id="poll-status">Waiting for the first figures…</p>
            <script src="\(DashboardAssets.scriptPath)"></script>
            """)
    }

    /// One label row and its history, for the Labels page.
    struct LabelEntry: Sendable {
        var stored: StoredLabel
        var history: [LabelHistoryEntry]
    }

    static func labels(
        search: LabelStore.LabelSearch, entries: [LabelEntry], message: String?, error: String?, csrfToken: String
    ) -> String {
        func value(_ text: String?) -> String { E.escape(text ?? "") }
        var html = """
            <section>
            <h2>Labels</h2>
            <form method="get" action="/labels" class="search" id="search-form">
            <label>URI or DID <input name="uri" id="search-uri" value="\(value(search.uri))" placeholder="at://did:plc:…/app.bsky.feed.post/… or a prefix ending in *"></label>
            <label>Value <input name="val" id="search-val" value="\(value(search.val))"></label>
            <label>Rule <input name="rule" id="search-rule" value="\(value(search.ruleID))"></label>
            <label>Since <input name="since" id="search-since" value="\(value(search.since))" placeholder="2026-12-03T10:00"></label>
            <button type="submit" id="search-button">Search</button>
            </form>
            </section>
            """
        if let message { html += "<p class=\"message\" id=\"message\">\(E.escape(message))</p>" }
        if let error { html += "<p class=\"error\" id=\"error\">\(E.escape(error))</p>" }
        html += applyForm(uri: search.uri, csrfToken: csrfToken)
        if entries.isEmpty {
            html += "<p class=\"muted\" id=\"no-labels\">No label matches.</p>"
        } else {
            html += "<section id=\"results\">"
            for entry in entries { html += labelCard(entry, csrfToken: csrfToken) }
            html += "</section>"
        }
        return layout(title: "Labels", csrfToken: csrfToken, active: "/labels", html)
    }

    static func applyForm(uri: String?, csrfToken: String) -> String {
        let subject = uri.flatMap { $0.hasSuffix("*") ? nil : $0 } ?? ""
        return """
            <details class="apply"><summary>Apply a label by hand</summary>
            <form method="post" action="/labels/apply" id="apply-form">
            <input type="hidden" name="csrf" value="\(E.escape(csrfToken))">
            <label>URI or DID <input name="uri" value="\(E.escape(subject))" required></label>
            <label>CID (optional) <input name="cid"></label>
            <label>Value <input name="val" required></label>
            <label>Reason <input name="reason"></label>
            <button type="submit">Apply</button>
            </form></details>
            """
    }

    static func labelCard(_ entry: LabelEntry, csrfToken: String) -> String {
        let label = entry.stored.label
        let state = label.isNegation ? "negated" : "applied"
        var html = """
            <article class="label \(state)" data-seq="\(entry.stored.seq)" data-uri="\(E.escape(label.uri))" data-val="\(E.escape(label.val))">
            <h3><span class="val">\(E.escape(label.val))</span> <span class="state">\(state)</span> \
            <a href="/labels?uri=\(E.escape(E.queryComponent(label.uri)))" class="uri">\(E.escape(label.uri))</a></h3>
            <p class="meta">seq \(entry.stored.seq) · \(E.escape(label.cts))\
            \(label.cid.map { " · cid \(E.escape($0))" } ?? "")\(label.exp.map { " · expires \(E.escape($0))" } ?? "")</p>
            """
        let action = label.isNegation ? "apply" : "negate"
        html += """
            <form method="post" action="/labels/\(action)" class="label-action">
            <input type="hidden" name="csrf" value="\(E.escape(csrfToken))">
            <input type="hidden" name="uri" value="\(E.escape(label.uri))">
            <input type="hidden" name="cid" value="\(E.escape(label.cid ?? ""))">
            <input type="hidden" name="val" value="\(E.escape(label.val))">
            <input name="reason" placeholder="reason (kept in the history)">
            <button type="submit" class="\(action)">\(label.isNegation ? "Apply again" : "Negate")</button>
            </form>
            """
        let history = entry.history.filter { $0.val == label.val && ($0.cid ?? "") == (label.cid ?? "") }
        if !history.isEmpty {
            html += "<table class=\"history\"><thead><tr><th>time</th><th>seq</th><th>action</th><th>by</th>"
            html += "<th>field</th><th>snippet</th><th>reason</th></tr></thead><tbody>"
            for h in history {
                let who =
                    h.ruleID.map { "rule <span class=\"rule\">\(E.escape($0))</span>" }
                    ?? "manual by \(E.escape(h.actor ?? "unknown"))"
                var reason = h.reason.map(E.escape) ?? ""
                if let report = h.reportID { reason = "report \(report)" + (reason.isEmpty ? "" : ": ") + reason }
                html += """
                    <tr><td>\(E.escape(h.time))</td><td>\(h.seq)</td><td>\(h.action.rawValue)</td><td>\(who)</td>\
                    <td>\(E.escape(h.field ?? ""))</td><td class="snippet">\(E.escape(h.snippet ?? ""))</td><td>\(reason)</td></tr>
                    """
            }
            html += "</tbody></table>"
        }
        return html + "</article>"
    }

    /// One rule's row on the Rules page.
    struct RuleRow: Sendable {
        var rule: DashboardRule
        var counts: [BudgetWindow: Int]
        var trip: StoredTrip?
    }

    static func rules(
        rows: [RuleRow], global: [BudgetWindow: Int], labelQueue: Int, playground: PlaygroundView?, csrfToken: String
    ) -> String {
        var html = "<section><h2>Rules</h2>"
        if rows.isEmpty {
            html += "<p class=\"muted\">No rules are loaded.</p>"
        } else {
            html += """
                <table class="rules" id="rules-table"><thead><tr><th>rule</th><th>label</th><th>mode</th><th>hits</th>\
                <th>minute</th><th>hour</th><th>day</th><th>state</th></tr></thead><tbody>
                """
            for row in rows {
                let limits = row.rule.limits
                func cell(_ window: BudgetWindow) -> String {
                    let count = row.counts[window] ?? 0
                    return limits?.perWindow[window].map { "\(count)/\($0)" } ?? "\(count)"
                }
                var state = limits == nil ? "no budget" : "ok"
                if let trip = row.trip?.trip {
                    state =
                        "<strong>tripped</strong> at \(E.escape(trip.trippedAt)) (over \(trip.limit)/\(trip.window.rawValue)): "
                        + "<code>labeler rules reset \(E.escape(row.rule.id))</code>"
                }
                html += """
                    <tr data-rule="\(E.escape(row.rule.id))"\(row.trip != nil ? " class=\"tripped\"" : "")><td>\(E.escape(row.rule.id))</td>\
                    <td>\(E.escape(row.rule.label ?? "–"))</td><td>\(E.escape(row.rule.mode))</td><td>\(row.rule.hits)</td>\
                    <td>\(cell(.minute))</td><td>\(cell(.hour))</td><td>\(cell(.day))</td><td>\(state)</td></tr>
                    """
            }
            html += "</tbody></table>"
        }
        html +=
            "<p class=\"muted\">Global budget: \(global[.second] ?? 0) this second, \(global[.hour] ?? 0) this hour, "
            + "\(global[.day] ?? 0) today; \(labelQueue) queued.</p></section>"
        if let playground { html += playgroundSection(playground, csrfToken: csrfToken) }
        return layout(title: "Rules", csrfToken: csrfToken, active: "/rules", html)
    }

    /// The playground's form, with what was last submitted and its outcome.
    struct PlaygroundView: Sendable {
        var input: PlaygroundInput?
        var outcome: PlaygroundOutcome?
    }

    static func playgroundSection(_ view: PlaygroundView, csrfToken: String) -> String {
        let input = view.input
        let isRecord = input?.kind == .record
        var html = """
            <section class="playground"><h2>Playground</h2>
            <p class="muted">Run the rules loaded now over a post's text or a record (JSON), as \
            <code>labeler rules eval</code> does. Nothing is labeled.</p>
            <form method="post" action="/rules/eval" id="playground-form">
            <input type="hidden" name="csrf" value="\(E.escape(csrfToken))">
            <label class="choice"><input type="radio" name="kind" value="text"\(isRecord ? "" : " checked")> text</label>
            <label class="choice"><input type="radio" name="kind" value="record"\(isRecord ? " checked" : "")> record JSON</label>
            <label>collection <input name="collection" value="\(E.escape(input?.collection ?? Collections.post))"></label>
            <textarea name="input" id="playground-input" rows="6">\(E.escape(input?.content ?? ""))</textarea>
            <button type="submit" id="playground-run">Evaluate</button>
            </form>
            """
        switch view.outcome {
        case .lines(let lines)?:
            html += "<pre id=\"playground-result\">\(E.escape(lines.joined(separator: "\n")))</pre>"
        case .refused(let reason)?:
            html += "<p class=\"error\" id=\"playground-result\">\(E.escape(reason))</p>"
        case nil:
            break
        }
        return html + "</section>"
    }

    static func problem(_ message: String, csrfToken: String?) -> String {
        layout(title: "Error", csrfToken: csrfToken, "<p class=\"error\" id=\"error\">\(E.escape(message))</p>")
    }
}
