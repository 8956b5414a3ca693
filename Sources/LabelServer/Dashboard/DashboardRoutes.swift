import ATProto
import Foundation
import Hummingbird
import HummingbirdCore
import LabelStore
import Synchronization

/// The dashboard: `/` (login, then the overview), `/labels`, `/rules`, `/reports`, their form posts, the
/// overview's JSON and the embedded assets, on the labeler's own port.
///
/// It opens only when an admin token is configured, the one secret an operator already has: the
/// login form takes it, compared in constant time, and answers with a session cookie. Every
/// POST but the login needs the session's CSRF token (a form field, or the `X-CSRF-Token`
/// header), so a page elsewhere that makes the browser post here is refused with 403 even if
/// the cookie went along. Labels change only through `submit`, the label writer.
struct DashboardRoutes: Sendable {
    let store: LabelStore
    let submit: LabelServer.Submit
    let adminToken: AdminToken?
    let sessions: DashboardSessions
    let source: DashboardSource
    /// subscribeLabels connections open now.
    let subscribers: @Sendable () -> Int
    private let labelCount = CachedCount(maxAge: .seconds(2))
    private let loginThrottle = LoginThrottle()

    static let overviewPath = "/dashboard/api/overview"
    /// Who the history names for a change made here.
    static let actor = "dashboard"

    init(
        store: LabelStore, submit: @escaping LabelServer.Submit, adminToken: AdminToken?, sessions: DashboardSessions,
        source: DashboardSource, subscribers: @escaping @Sendable () -> Int
    ) {
        self.store = store
        self.submit = submit
        self.adminToken = adminToken
        self.sessions = sessions
        self.source = source
        self.subscribers = subscribers
    }

    func register(on router: Router<ServerRequestContext>) {
        router.get("/") { request, context in await page(request, context) { try overview($0) } }
        router.get("/login") { _, _ in DashboardHTTP.redirect("/") }
        router.post("/login") { request, context in await login(request, context: context) }
        router.post("/logout") { request, context in
            await action(request, context) { session, _ in
                sessions.remove(session.id)
                return DashboardHTTP.redirect(
                    "/", cookie: DashboardHTTP.expiredCookie(secure: DashboardHTTP.isHTTPS(request)))
            }
        }
        router.get("/labels") { request, context in
            await page(request, context) { try labelsPage($0, query: request.uri.queryParameters) }
        }
        router.post("/labels/negate") { request, context in
            await action(request, context) { _, form in await change(.negate, form: form, context: context) }
        }
        router.post("/labels/apply") { request, context in
            await action(request, context) { _, form in await change(.apply, form: form, context: context) }
        }
        router.get("/reports") { request, context in
            await page(request, context) { try reportsPage($0, query: request.uri.queryParameters) }
        }
        router.post("/reports/resolve") { request, context in
            await action(request, context) { _, form in await resolveReport(form: form, context: context) }
        }
        router.get("/rules") { request, context in await page(request, context) { rulesPage($0, playground: nil) } }
        router.post("/rules/eval") { request, context in
            await action(request, context) { session, form in
                DashboardHTTP.html(rulesPage(session, playground: playground(form)))
            }
        }
        router.get(.init(stringLiteral: Self.overviewPath)) { request, _ in
            guard adminToken != nil, session(request) != nil else {
                return DashboardHTTP.json(
                    #"{"error":"AuthenticationRequired","message":"Log in to the dashboard first."}"#,
                    status: .unauthorized)
            }
            return DashboardHTTP.json(overviewJSON())
        }
        router.get(.init(stringLiteral: DashboardAssets.stylePath)) { _, _ in
            DashboardHTTP.asset(DashboardAssets.style, contentType: "text/css; charset=utf-8")
        }
        router.get(.init(stringLiteral: DashboardAssets.scriptPath)) { _, _ in
            DashboardHTTP.asset(DashboardAssets.script, contentType: "text/javascript; charset=utf-8")
        }
    }

    // MARK: Sessions

    func session(_ request: Request) -> DashboardSessions.Session? {
        sessions.session(
            DashboardHTTP.cookie(DashboardHTTP.cookieName, in: request.headers[.cookie]), at: .now)
    }

    /// A GET page: the "how to enable" page without a token, the login form without a session.
    func page(
        _ request: Request, _ context: ServerRequestContext,
        _ render: (DashboardSessions.Session) throws -> String
    ) async -> Response {
        guard adminToken != nil else { return DashboardHTTP.html(DashboardPages.disabled()) }
        guard let session = session(request) else {
            // The overview's address shows the form; any other page sends the browser there.
            return request.uri.path == "/" ? DashboardHTTP.html(DashboardPages.login()) : DashboardHTTP.redirect("/")
        }
        do {
            return DashboardHTTP.html(try render(session))
        } catch {
            context.logger.error(
                "dashboard page failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            return DashboardHTTP.html(
                DashboardPages.problem("The page could not be built: \(error)", csrfToken: session.csrfToken),
                status: .internalServerError)
        }
    }

    /// A state-changing POST: it needs a session and that session's CSRF token.
    func action(
        _ request: Request, _ context: ServerRequestContext,
        _ body: (DashboardSessions.Session, [String: String]) async -> Response
    ) async -> Response {
        guard adminToken != nil else { return DashboardHTTP.html(DashboardPages.disabled(), status: .notFound) }
        guard let session = session(request) else {
            return DashboardHTTP.html(
                DashboardPages.problem("You are not logged in (or the session expired): log in again.", csrfToken: nil),
                status: .forbidden)
        }
        guard let form = await Self.form(request) else {
            return DashboardHTTP.html(
                DashboardPages.problem("The form is too large.", csrfToken: session.csrfToken), status: .contentTooLarge
            )
        }
        let presented = form["csrf"] ?? request.headers[.init("x-csrf-token")!]
        guard DashboardSessions.csrfMatches(presented, session) else {
            context.logger.warning(
                "dashboard request refused: CSRF token missing or wrong", metadata: ["path": "\(request.uri.path)"])
            return DashboardHTTP.html(
                DashboardPages.problem(
                    "Refused: the request does not carry this session's CSRF token. Reload the page and try again.",
                    csrfToken: session.csrfToken),
                status: .forbidden)
        }
        return await body(session, form)
    }

    static func form(_ request: Request) async -> [String: String]? {
        var request = request
        guard let body = try? await request.collectBody(upTo: DashboardHTTP.maximumFormBytes) else { return nil }
        return DashboardHTTP.parseForm(String(buffer: body))
    }

    func login(_ request: Request, context: ServerRequestContext) async -> Response {
        guard let adminToken else { return DashboardHTTP.html(DashboardPages.disabled(), status: .notFound) }
        let address = ClientAddress.key(
            peer: context.channel.remoteAddress?.ipAddress, forwardedFor: request.headers[.init("x-forwarded-for")!])
        if let wait = loginThrottle.attempt(from: address, nowMillis: Datetime.now().unixMicros / 1000) {
            context.logger.warning("dashboard login refused: too many attempts", metadata: ["address": "\(address)"])
            var response = DashboardHTTP.html(
                DashboardPages.login(error: "Too many attempts from this address: try again in \(wait) s."),
                status: .tooManyRequests)
            response.headers[.retryAfter] = String(wait)
            return response
        }
        let form = await Self.form(request) ?? [:]
        guard let token = form["token"], adminToken.accepts(token: token) else {
            context.logger.warning(
                "dashboard login refused: wrong token",
                metadata: ["address": "\(address)"])
            return DashboardHTTP.html(DashboardPages.login(error: "Wrong token."), status: .unauthorized)
        }
        let session = sessions.create(at: .now)
        context.logger.info("dashboard login", metadata: ["sessions": "\(sessions.count)"])
        return DashboardHTTP.redirect(
            "/",
            cookie: DashboardHTTP.sessionCookie(
                session.id, maxAge: sessions.lifetime, secure: DashboardHTTP.isHTTPS(request)))
    }

    // MARK: Overview

    func overview(_ session: DashboardSessions.Session) throws -> String {
        DashboardPages.overview(
            storedLabels: try labelCount.value { try store.appliedLabelCount() }, csrfToken: session.csrfToken)
    }

    func overviewJSON() -> String {
        let count = (try? labelCount.value { try store.appliedLabelCount() }) ?? 0
        let now = Datetime.now().unixMicros
        return DashboardOverview(
            time: Double(now) / 1_000_000, storedLabels: count, subscribers: subscribers(), counters: source.counters()
        ).json
    }

    // MARK: Labels

    func labelsPage(_ session: DashboardSessions.Session, query: FlatDictionary<Substring, Substring>) throws -> String
    {
        func field(_ name: String) -> String? {
            guard let value = query[Substring(name)].map(String.init)?.trimmingCharacters(in: .whitespaces),
                !value.isEmpty
            else { return nil }
            return value
        }
        let search = LabelStore.LabelSearch(
            uri: field("uri"), val: field("val"), ruleID: field("rule"), since: field("since"), limit: 50)
        let message: String? =
            switch field("done") {
            case "negate": "Negated: the negation is signed and on the stream."
            case "apply": "Applied: the label is signed and on the stream."
            case "unchanged": "Nothing changed: the label was already so (or waits in the global budget's queue)."
            default: nil
            }
        var entries: [DashboardPages.LabelEntry] = []
        var error: String? = nil
        do {
            let rows = try store.search(search)
            var histories: [String: [LabelHistoryEntry]] = [:]
            for row in rows where histories[row.label.uri] == nil {
                histories[row.label.uri] =
                    (try? LabelSubject(row.label.uri)).flatMap { try? store.history(of: $0) } ?? []
            }
            entries = rows.map { .init(stored: $0, history: histories[$0.label.uri] ?? []) }
        } catch let failure {
            error = failure.description
        }
        return DashboardPages.labels(
            search: search, entries: entries, message: message, error: error, csrfToken: session.csrfToken)
    }

    /// Applies or negates one label through the writer, then shows the subject's labels.
    func change(_ action: LabelChange.Action, form: [String: String], context: ServerRequestContext) async -> Response {
        func refuse(_ message: String) -> Response {
            DashboardHTTP.html(DashboardPages.problem(message, csrfToken: nil), status: .badRequest)
        }
        let uri = (form["uri"] ?? "").trimmingCharacters(in: .whitespaces)
        let val = (form["val"] ?? "").trimmingCharacters(in: .whitespaces)
        let cid = form["cid"].flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 }
        let reason = form["reason"].flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 }
        guard let subject = try? LabelSubject(uri) else { return refuse("\"\(uri)\" is not an at:// URI or a DID.") }
        guard EmitEventRequest.isValidLabelValue(val) else {
            return refuse("\"\(val)\" is not a label value (lowercase letters, digits and -).")
        }
        if let cid, (try? CID(string: cid)) == nil { return refuse("\"\(cid)\" is not a CID.") }
        let change = LabelChange(
            action: action, subject: subject, cid: cid, val: val, origin: .manual(actor: Self.actor),
            reason: reason ?? "from the dashboard")
        let written: [StoredLabel]
        do {
            written = try await submit([change])
        } catch {
            context.logger.error("dashboard label change failed", metadata: ["error": "\(error)"])
            return DashboardHTTP.html(
                DashboardPages.problem("The label writer refused the change: \(error)", csrfToken: nil),
                status: .internalServerError)
        }
        context.logger.info(
            "labels changed by hand",
            metadata: [
                "actor": "\(Self.actor)", "uri": "\(subject)", "val": "\(val)", "action": "\(action.rawValue)",
                "rows": "\(written.count)",
            ])
        let done = written.isEmpty ? "unchanged" : action.rawValue
        return DashboardHTTP.redirect("/labels?uri=\(DashboardHTTP.queryComponent(uri))&done=\(done)")
    }

    // MARK: Rules

    func rulesPage(_ session: DashboardSessions.Session, playground: DashboardPages.PlaygroundView?) -> String {
        let now = Datetime.now().unixMicros
        let counts = (try? store.budgetCounts(at: now)) ?? [:]
        let trips = Dictionary(
            ((try? store.trips()) ?? []).map { ($0.trip.ruleID, $0) }, uniquingKeysWith: { first, _ in first })
        var rules = source.rules()
        // A tripped rule stays tripped after its file is gone: show it so it can be reset.
        let known = Set(rules.map(\.id))
        rules += trips.keys.filter { !known.contains($0) }.sorted().map {
            DashboardRule(id: $0, label: trips[$0]?.trip.label, mode: "removed", hits: 0, limits: nil)
        }
        let rows = rules.map { DashboardPages.RuleRow(rule: $0, counts: counts[$0.id] ?? [:], trip: trips[$0.id]) }
        let view = playground ?? (source.evaluate == nil ? nil : .init(input: nil, outcome: nil))
        return DashboardPages.rules(
            rows: rows, global: counts[BudgetLedger.globalID] ?? [:], labelQueue: (try? store.queueDepth()) ?? 0,
            playground: view, csrfToken: session.csrfToken)
    }

    func playground(_ form: [String: String]) -> DashboardPages.PlaygroundView? {
        guard let evaluate = source.evaluate else { return nil }
        let kind = PlaygroundInput.Kind(rawValue: form["kind"] ?? "") ?? .text
        let collection = (form["collection"] ?? "").trimmingCharacters(in: .whitespaces)
        let input = PlaygroundInput(
            kind: kind, content: form["input"] ?? "", collection: collection.isEmpty ? Collections.post : collection)
        guard !input.content.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            return .init(input: input, outcome: .refused("Paste a text or a record first."))
        }
        return .init(input: input, outcome: evaluate(input))
    }
}

/// The stored label count, read at most once per `maxAge`: counting a large table on every
/// poll of every open page would cost the writer's database more than the page is worth.
final class CachedCount: Sendable {
    let maxAge: Duration
    private let state = Mutex<(value: Int, read: ContinuousClock.Instant)?>(nil)

    init(maxAge: Duration) { self.maxAge = maxAge }

    func value(_ read: () throws -> Int) throws -> Int {
        let now = ContinuousClock.now
        if let cached = state.withLock({ $0 }), now - cached.read < maxAge { return cached.value }
        let value = try read()
        state.withLock { $0 = (value, now) }
        return value
    }
}
