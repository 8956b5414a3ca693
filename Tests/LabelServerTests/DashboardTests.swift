import ATProto
import Foundation
import Hummingbird
import HummingbirdTesting
import LabelStore
import TestSupport
import Testing

@testable import LabelServer

@Suite struct DashboardSessionTests {
    @Test func sessionsExpireAndEnd() {
        let sessions = DashboardSessions(lifetime: .seconds(3600))
        let start = ContinuousClock.now
        let session = sessions.create(at: start)
        #expect(sessions.session(session.id, at: start + .seconds(3599)) == session)
        #expect(sessions.session("not-\(session.id)", at: start) == nil)
        #expect(sessions.session(nil, at: start) == nil)
        #expect(sessions.session(session.id, at: start + .seconds(3600)) == nil)
        // An expired session is gone for good, not only hidden at that time.
        #expect(sessions.session(session.id, at: start) == nil)

        let other = sessions.create(at: start)
        sessions.remove(other.id)
        #expect(sessions.session(other.id, at: start) == nil)
    }

    @Test func tokensAreLongRandomAndDistinct() {
        let sessions = DashboardSessions()
        let made = (0..<50).map { _ in sessions.create(at: .now) }
        let tokens = made.flatMap { [$0.id, $0.csrfToken] }
        #expect(Set(tokens).count == tokens.count)
        #expect(tokens.allSatisfy { $0.count == 64 && $0.allSatisfy(\.isHexDigit) })
    }

    @Test func oldestSessionsGoPastCapacity() {
        let sessions = DashboardSessions(lifetime: .seconds(3600), capacity: 3)
        let start = ContinuousClock.now
        let made = (0..<5).map { sessions.create(at: start + .seconds($0)) }
        #expect(sessions.count == 3)
        #expect(sessions.session(made[0].id, at: start + .seconds(5)) == nil)
        #expect(sessions.session(made[4].id, at: start + .seconds(5)) == made[4])
    }

    @Test func csrfTokenMustMatchExactly() {
        let session = DashboardSessions().create(at: .now)
        #expect(DashboardSessions.csrfMatches(session.csrfToken, session))
        #expect(!DashboardSessions.csrfMatches(nil, session))
        #expect(!DashboardSessions.csrfMatches("", session))
        #expect(!DashboardSessions.csrfMatches(String(session.csrfToken.dropLast()), session))
        #expect(!DashboardSessions.csrfMatches(session.csrfToken + "0", session))
        #expect(!DashboardSessions.csrfMatches(session.id, session))
    }

    @Test func formsCookiesAndEscaping() {
        #expect(
            DashboardHTTP.parseForm("token=a%2Bb+c&csrf=x&csrf=y&empty=&bare")
                == ["token": "a+b c", "csrf": "x", "empty": "", "bare": ""])
        #expect(DashboardHTTP.parseForm("uri=at%3A%2F%2Fdid%3Aplc%3Aa%2Fx")["uri"] == "at://did:plc:a/x")
        #expect(DashboardHTTP.cookie("labeler_session", in: "a=1; labeler_session=abc ;b=2") == "abc")
        #expect(DashboardHTTP.cookie("labeler_session", in: "xlabeler_session=abc") == nil)
        #expect(DashboardHTTP.cookie("labeler_session", in: nil) == nil)
        #expect(
            DashboardHTTP.escape(#"<a href="x">'&'</a>"#) == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;")
        let cookie = DashboardHTTP.sessionCookie("abc", maxAge: .seconds(43200), secure: false)
        #expect(cookie == "labeler_session=abc; Path=/; Max-Age=43200; HttpOnly; SameSite=Strict")
        #expect(DashboardHTTP.sessionCookie("abc", maxAge: .seconds(1), secure: true).hasSuffix("; Secure"))
    }

    @Test func loginAttemptsAreThrottledPerAddress() {
        let throttle = LoginThrottle(policy: .init(limit: 3, windowSeconds: 60))
        for _ in 0..<3 { #expect(throttle.attempt(from: "10.0.0.1", nowMillis: 1_000) == nil) }
        #expect(throttle.attempt(from: "10.0.0.1", nowMillis: 2_000) == 59)
        #expect(throttle.attempt(from: "10.0.0.2", nowMillis: 2_000) == nil)
        #expect(throttle.attempt(from: "10.0.0.1", nowMillis: 61_000) == nil)
    }

    @Test func overviewJSONIsTotalsAndGauges() throws {
        let overview = DashboardOverview(
            time: 1_764_756_000.25, storedLabels: 7, subscribers: 2,
            counters: .init(
                events: 100, labelsWritten: 9, labelsByValue: ["spam": 5, "nsfw": 4], ruleHits: ["r1": 9],
                lagSeconds: 0.5, cursor: 1234, commits: 3, commitSeconds: 0.0125, schedulerQueue: 6, labelQueue: 1))
        let json = try dashboardJSON(overview.json)
        #expect(json["storedLabels"] as? Int == 7)
        #expect((json["labelsByValue"] as? [String: Int]) == ["spam": 5, "nsfw": 4])
        #expect(json["cursor"] as? Int == 1234)
        #expect(overview.json.contains(#""time":1764756000.25"#))
        #expect(overview.json.contains(#""commitSeconds":0.0125"#))
        #expect(overview.json.contains(#""lagSeconds":0.5"#))
        var idle = overview
        idle.counters.lagSeconds = nil
        idle.counters.cursor = nil
        #expect(idle.json.contains(#""lagSeconds":null,"cursor":null"#))
        #expect(DashboardOverview.number(.infinity) == "0")
        #expect(DashboardOverview.number(42) == "42")
    }
}

/// The dashboard's routes, driven through the router: login, the session cookie, CSRF, the
/// overview's JSON and label changes through the writer.
@Suite struct DashboardRouteTests {
    static let token = "dashboard-test-token-0123456789"
    static let subject = "at://did:plc:alice/app.bsky.feed.post/0"

    /// Logs in and returns the cookie header to send and the session's CSRF token (read from a
    /// form of the overview page, as a browser would have it).
    static func logIn(_ h: Harness) async throws -> (cookie: HTTPFields, csrf: String) {
        let response = try await h.request(
            "/login", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
            body: "token=\(token)")
        #expect(response.status == .seeOther)
        let setCookie = try #require(response.headers[.setCookie])
        let id = try #require(
            DashboardHTTP.cookie(DashboardHTTP.cookieName, in: setCookie.components(separatedBy: ";")[0]))
        let cookie: HTTPFields = [.cookie: "\(DashboardHTTP.cookieName)=\(id)"]
        let page = try await h.request("/", headers: cookie)
        #expect(page.status == .ok)
        let marker = #"name="csrf" value=""#
        let start = try #require(page.text.range(of: marker)).upperBound
        let csrf = String(page.text[start...].prefix { $0 != "\"" })
        return (cookie, csrf)
    }

    static func form(_ cookie: HTTPFields) -> HTTPFields {
        var fields = cookie
        fields[.contentType] = "application/x-www-form-urlencoded"
        return fields
    }

    @Test func withoutATokenItSaysHowToEnableIt() async throws {
        try await Harness.with(over: .router) { h in
            let page = try await h.request("/")
            #expect(page.status == .ok)
            #expect(page.text.contains("server.admin_token"))
            #expect(!page.text.contains("<form"))
            let login = try await h.request(
                "/login", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"], body: "token=")
            #expect(login.status == .notFound)
            #expect(login.headers[.setCookie] == nil)
            #expect(try await h.request(DashboardRoutes.overviewPath).status == .unauthorized)
        }
    }

    @Test func loginSetsAStrictHttpOnlyCookieAndWrongTokensAreRefused() async throws {
        try await Harness.with(over: .router, configure: { $0.adminToken = Self.token }) { h in
            let form = try await h.request("/")
            #expect(form.status == .ok)
            #expect(form.text.contains(#"action="/login""#))
            #expect(form.headers[.init("content-security-policy")!]?.contains("default-src 'none'") == true)

            for wrong in ["", "dashboard-test-token-012345678", Self.token + "9", "x"] {
                let refused = try await h.request(
                    "/login", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                    body: "token=\(wrong)")
                #expect(refused.status == .unauthorized)
                #expect(refused.headers[.setCookie] == nil)
                #expect(refused.text.contains("Wrong token"))
                #expect(refused.text.contains(#"action="/login""#))
            }

            let accepted = try await h.request(
                "/login", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                body: "token=\(Self.token)")
            #expect(accepted.status == .seeOther)
            #expect(accepted.headers[.location] == "/")
            let cookie = try #require(accepted.headers[.setCookie])
            for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
                #expect(cookie.contains(attribute), "\(cookie)")
            }
            #expect(!cookie.contains("Secure"))
        }
    }

    @Test func tooManyLoginsAreRefusedEvenWithTheRightToken() async throws {
        try await Harness.with(over: .router, configure: { $0.adminToken = Self.token }) { h in
            let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
            for _ in 0..<LoginThrottle.policy.limit {
                let wrong = try await h.request("/login", method: .post, headers: form, body: "token=guess")
                #expect(wrong.status == .unauthorized)
            }
            let refused = try await h.request("/login", method: .post, headers: form, body: "token=\(Self.token)")
            #expect(refused.status == .tooManyRequests)
            #expect(refused.headers[.setCookie] == nil)
            #expect(refused.headers[.retryAfter].flatMap(Int.init).map { $0 >= 1 && $0 <= 60 } == true)
            #expect(refused.text.contains("Too many attempts"))
        }
    }

    @Test func overviewJSONNeedsASession() async throws {
        let counters = DashboardCounters(
            events: 1234, labelsWritten: 3, labelsByValue: ["spam": 3], ruleHits: ["spam-words": 3], lagSeconds: 0.25,
            cursor: 99, commits: 2, commitSeconds: 0.5, schedulerQueue: 4, labelQueue: 1)
        try await Harness.with(
            over: .router, dashboard: DashboardSource(counters: { counters }),
            configure: { $0.adminToken = Self.token }
        ) { h in
            try await h.apply(3)
            let anonymous = try await h.request(DashboardRoutes.overviewPath)
            #expect(anonymous.status == .unauthorized)
            let forged = try await h.request(
                DashboardRoutes.overviewPath,
                headers: [.cookie: "\(DashboardHTTP.cookieName)=\(String(repeating: "0", count: 64))"])
            #expect(forged.status == .unauthorized)

            let (cookie, _) = try await Self.logIn(h)
            let response = try await h.request(DashboardRoutes.overviewPath, headers: cookie)
            #expect(response.status == .ok)
            let json = try dashboardJSON(response.text)
            #expect(json["storedLabels"] as? Int == 3)
            #expect(json["events"] as? Int == 1234)
            #expect((json["labelsByValue"] as? [String: Int]) == ["spam": 3])
            #expect((json["ruleHits"] as? [String: Int]) == ["spam-words": 3])
            #expect(json["lagSeconds"] as? Double == 0.25)
            #expect(json["cursor"] as? Int == 99)
            #expect(json["commitSeconds"] as? Double == 0.5)
            #expect(json["schedulerQueue"] as? Int == 4)
            #expect(json["labelQueue"] as? Int == 1)
            #expect(json["subscribers"] as? Int == 0)
        }
    }

    @Test func negatingNeedsTheSessionsCSRFToken() async throws {
        try await Harness.with(over: .router, configure: { $0.adminToken = Self.token }) { h in
            try await h.apply(1)
            let (cookie, csrf) = try await Self.logIn(h)
            let body = "uri=\(DashboardHTTP.queryComponent(Self.subject))&val=spam&reason=test"

            // No token, a wrong one, and the right one without the cookie: refused, nothing written.
            for (headers, form) in [
                (Self.form(cookie), body), (Self.form(cookie), body + "&csrf=\(String(csrf.reversed()))"),
                (Self.form([:]), body + "&csrf=\(csrf)"),
            ] {
                let refused = try await h.request("/labels/negate", method: .post, headers: headers, body: form)
                #expect(refused.status == .forbidden)
            }
            #expect(try h.store.lastLabelSeq() == 1)

            let done = try await h.request(
                "/labels/negate", method: .post, headers: Self.form(cookie), body: body + "&csrf=\(csrf)")
            #expect(done.status == .seeOther)
            #expect(done.headers[.location]?.hasPrefix("/labels?uri=") == true)
            let rows = try h.store.labels(matching: .init(uri: Self.subject))
            #expect(rows.map(\.label.isNegation) == [true])
            let last = try #require(try h.store.history(of: LabelSubject(Self.subject)).last)
            #expect(last.action == .negate)
            #expect(last.actor == DashboardRoutes.actor)
            #expect(last.reason == "test")

            // The header works as well as the form field (for scripts).
            var headers = Self.form(cookie)
            headers[.init("x-csrf-token")!] = csrf
            let applied = try await h.request(
                "/labels/apply", method: .post, headers: headers, body: "uri=\(Self.subject)&val=spam")
            #expect(applied.status == .seeOther)
            #expect(try h.store.labels(matching: .init(uri: Self.subject)).map(\.label.isNegation) == [false])
        }
    }

    @Test func labelsPageShowsTheHistoryAndSearches() async throws {
        try await Harness.with(over: .router, configure: { $0.adminToken = Self.token }) { h in
            try await h.apply(2)
            try await h.apply(1, prefix: "at://did:plc:bob/app.bsky.feed.post/", val: "nsfw")
            let (cookie, _) = try await Self.logIn(h)
            let anonymous = try await h.request("/labels?uri=\(Self.subject)")
            #expect(anonymous.status == .seeOther)

            let byURI = try await h.request(
                "/labels?uri=\(DashboardHTTP.queryComponent(Self.subject))", headers: cookie)
            #expect(byURI.status == .ok)
            #expect(byURI.text.components(separatedBy: "<article").count == 2)
            #expect(byURI.text.contains(#"rule <span class="rule">test</span>"#))
            #expect(byURI.text.contains(#"action="/labels/negate""#))

            let byValue = try await h.request("/labels?val=nsfw", headers: cookie)
            #expect(byValue.text.contains("did:plc:bob"))
            #expect(!byValue.text.contains("did:plc:alice/app.bsky.feed.post/1"))
            let byRule = try await h.request("/labels?rule=test&uri=at://did:plc:alice/*", headers: cookie)
            #expect(byRule.text.components(separatedBy: "<article").count == 3)
            let noRule = try await h.request("/labels?rule=other", headers: cookie)
            #expect(noRule.text.contains("No label matches"))
            let future = try await h.request("/labels?since=2999-01-01", headers: cookie)
            #expect(future.text.contains("No label matches"))
        }
    }

    @Test func logoutEndsTheSession() async throws {
        try await Harness.with(over: .router, configure: { $0.adminToken = Self.token }) { h in
            let (cookie, csrf) = try await Self.logIn(h)
            let refused = try await h.request("/logout", method: .post, headers: Self.form(cookie), body: "")
            #expect(refused.status == .forbidden)
            let out = try await h.request("/logout", method: .post, headers: Self.form(cookie), body: "csrf=\(csrf)")
            #expect(out.status == .seeOther)
            #expect(out.headers[.setCookie]?.contains("Max-Age=0") == true)
            #expect(try await h.request(DashboardRoutes.overviewPath, headers: cookie).status == .unauthorized)
            #expect(h.server.dashboardSessions.count == 0)
        }
    }

    @Test func rulesPageAndPlayground() async throws {
        let source = DashboardSource(
            rules: { [DashboardRule(id: "spam-words", label: "spam", mode: "label", hits: 12, limits: nil)] },
            evaluate: { input in .lines(["fired  spam-words  on \(input.content)"]) })
        try await Harness.with(over: .router, dashboard: source, configure: { $0.adminToken = Self.token }) { h in
            let (cookie, csrf) = try await Self.logIn(h)
            let page = try await h.request("/rules", headers: cookie)
            #expect(page.text.contains(#"data-rule="spam-words""#))
            #expect(page.text.contains("<td>12</td>"))
            let evaluated = try await h.request(
                "/rules/eval", method: .post, headers: Self.form(cookie),
                body: "csrf=\(csrf)&kind=text&input=buy+%3Cb%3Echeap%3C%2Fb%3E")
            #expect(evaluated.status == .ok)
            #expect(evaluated.text.contains("fired  spam-words  on buy &lt;b&gt;cheap&lt;/b&gt;"))
        }
    }
}

/// A JSON object as Foundation reads it (the overview has fractions, which the data model's
/// reader refuses).
func dashboardJSON(_ json: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
}

/// The Reports page: the queue and its actions, as `labeler reports resolve` does them.
@Suite struct DashboardReportTests {
    static let reasonType = "com.atproto.moderation.defs#reasonSpam"

    func file(_ h: Harness, subject: ReportSubject, by reporter: String) throws -> StoredReport {
        try h.store.fileReport(
            NewReport(
                reasonType: Self.reasonType, reason: "buy <now>", subject: subject, reportedBy: reporter,
                createdAt: Datetime.now().rawValue)
        ).report
    }

    @Test func theQueueIsResolvedByLabelNegateOrDismiss() async throws {
        try await Harness.with(over: .router, configure: { $0.adminToken = DashboardRouteTests.token }) { h in
            let account = try file(h, subject: .account(did: "did:plc:spammer"), by: "did:plc:r1")
            let post = try file(h, subject: .account(did: "did:plc:alice"), by: "did:plc:r2")
            let other = try file(h, subject: .account(did: "did:plc:bob"), by: "did:plc:r3")
            _ = try await h.writer.submit([
                LabelChange(
                    action: .apply, subject: try LabelSubject("did:plc:alice"), val: "spam", origin: .rule(id: "t"))
            ])
            let (cookie, csrf) = try await DashboardRouteTests.logIn(h)
            let queue = try await h.request("/reports", headers: cookie)
            #expect(queue.status == .ok)
            for id in [account.id, post.id, other.id] { #expect(queue.text.contains(#"data-report="\#(id)""#)) }
            #expect(queue.text.contains("buy &lt;now&gt;"))

            let form = DashboardRouteTests.form(cookie)
            let refused = try await h.request(
                "/reports/resolve", method: .post, headers: form, body: "id=\(account.id)&op=label&val=spam")
            #expect(refused.status == .forbidden)
            #expect(try h.store.report(id: account.id)?.state == .open)

            let labeled = try await h.request(
                "/reports/resolve", method: .post, headers: form,
                body: "csrf=\(csrf)&id=\(account.id)&op=label&val=spam&note=clear+spam")
            #expect(labeled.status == .seeOther)
            #expect(try h.store.report(id: account.id)?.state == .resolved)
            let history = try h.store.history(of: LabelSubject("did:plc:spammer"))
            #expect(history.map(\.reportID) == [account.id])
            #expect(history.first?.reason == "clear spam")

            let negated = try await h.request(
                "/reports/resolve", method: .post, headers: form, body: "csrf=\(csrf)&id=\(post.id)&op=negate&val=spam")
            #expect(negated.status == .seeOther)
            #expect(try h.store.labels(matching: .init(uri: "did:plc:alice")).map(\.label.isNegation) == [true])

            let nothingToNegate = try await h.request(
                "/reports/resolve", method: .post, headers: form, body: "csrf=\(csrf)&id=\(other.id)&op=negate&val=nsfw"
            )
            #expect(nothingToNegate.status == .badRequest)
            #expect(try h.store.report(id: other.id)?.state == .open)
            let dismissed = try await h.request(
                "/reports/resolve", method: .post, headers: form, body: "csrf=\(csrf)&id=\(other.id)&op=dismiss")
            #expect(dismissed.status == .seeOther)
            #expect(try h.store.report(id: other.id)?.state == .dismissed)
            let again = try await h.request(
                "/reports/resolve", method: .post, headers: form, body: "csrf=\(csrf)&id=\(other.id)&op=dismiss")
            #expect(again.status == .conflict)

            let empty = try await h.request("/reports", headers: cookie)
            #expect(empty.text.contains("No report to review"))
            let all = try await h.request("/reports?state=all", headers: cookie)
            #expect(all.text.contains(#"data-report="\#(other.id)""#))
        }
    }
}
