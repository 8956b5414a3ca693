import ATProto
import Hummingbird
import LabelStore

/// The plain HTTP endpoints: queryLabels, the admin label endpoint, health, metrics, and the
/// answers for every other XRPC method.
struct HTTPRoutes: Sendable {
    let store: LabelStore
    let signer: LabelSigner
    let broadcaster: Broadcaster
    let submit: LabelServer.Submit
    let adminToken: AdminToken?
    let health: HealthProvider
    let metrics: MetricsRegistry
    /// nil: reports are not taken (501, as for any method this server does not implement).
    let reports: ReportIntake?
    /// nil: the admin endpoint takes the admin token only.
    let moderators: ModeratorAuth?

    static let queryLabels = "com.atproto.label.queryLabels"
    static let subscribeLabels = "com.atproto.label.subscribeLabels"
    static let emitEvent = "tools.ozone.moderation.emitEvent"
    static let createReport = "com.atproto.moderation.createReport"
    static let health = "_health"

    func register(on router: Router<ServerRequestContext>) {
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: MetricsRegistry.contentType],
                body: .init(byteBuffer: ByteBuffer(string: metrics.render() + MetricsBackend.render())))
        }
        // XRPC methods are dispatched here by NSID, so that a known method asked with the wrong
        // HTTP method and an unknown method each get their XRPC error.
        for method in [HTTPRequest.Method.get, .post, .put, .delete, .patch] {
            router.on("/xrpc/**", method: method) { request, context in
                let nsid = String(request.uri.path.dropFirst("/xrpc/".count))
                let started = ContinuousClock.now
                defer { XRPCTimers.timer(for: nsid).record(duration: ContinuousClock.now - started) }
                return await JSONResponse.respond(context) {
                    try await dispatch(request, context: context, nsid: nsid)
                }
            }
        }
    }

    static let notImplemented = XRPCError(
        status: .notImplemented, error: "MethodNotImplemented", message: "Method Not Implemented")

    private func dispatch(_ request: Request, context: ServerRequestContext, nsid: String) async throws -> Response {
        let method = request.method
        switch nsid {
        case Self.queryLabels:
            guard method == .get else { throw Self.wrongMethod(nsid, expected: .get) }
            return try queryLabels(request)
        case Self.subscribeLabels:
            guard method == .get else { throw Self.wrongMethod(nsid, expected: .get) }
            throw XRPCError(
                status: .upgradeRequired, error: "InvalidRequest", message: "subscribeLabels is a WebSocket endpoint")
        case Self.emitEvent:
            guard method == .post else { throw Self.wrongMethod(nsid, expected: .post) }
            return try await emitEvent(request, context: context)
        case Self.createReport:
            guard let reports else { throw Self.notImplemented }
            guard method == .post else { throw Self.wrongMethod(nsid, expected: .post) }
            return try await receiveReport(request, context: context, intake: reports)
        case Self.health:
            guard method == .get else { throw Self.wrongMethod(nsid, expected: .get) }
            return healthReport()
        default:
            throw Self.notImplemented
        }
    }

    static func wrongMethod(_ nsid: String, expected: HTTPRequest.Method) -> XRPCError {
        var error = XRPCError(
            status: .methodNotAllowed, error: "InvalidRequest", message: "\(nsid) is called with \(expected.rawValue)")
        error.headers[.allow] = expected.rawValue
        return error
    }

    func queryLabels(_ request: Request) throws -> Response {
        let parameters = try QueryLabelsRequest(request.uri.queryParameters)
        let rows = try store.activeLabels(
            .init(
                uriPatterns: parameters.uriPatterns, sources: parameters.sources, after: parameters.after,
                limit: parameters.limit, now: Datetime.now().rawValue))
        var json = "{"
        // The cursor is the last seq returned; a page that comes back empty has none.
        if let last = rows.last { json += #""cursor":"# + DataModelJSON.quote(String(last.seq)) + "," }
        json += #""labels":["#
        for (i, row) in rows.enumerated() {
            if i > 0 { json += "," }
            json += DataModelJSON.serialize(signer.current(row).cborValue())
        }
        json += "]}"
        return JSONResponse.ok(json)
    }

    func emitEvent(_ request: Request, context: ServerRequestContext) async throws -> Response {
        guard adminToken != nil || moderators != nil else {
            throw XRPCError(
                status: .forbidden, error: "Forbidden",
                message: "The admin endpoint is disabled (no admin token is set).")
        }
        let moderator = try await authenticateAdmin(request, context: context)
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: context.maxUploadSize)
        } catch {
            throw XRPCError(status: .contentTooLarge, error: "InvalidRequest", message: "The body is too large.")
        }
        let event = try EmitEventRequest(json: String(buffer: body))
        // The history names who acted; with service auth that is the token's signer, so a body
        // saying someone else did it is refused rather than recorded.
        if let moderator, event.createdBy != moderator {
            throw XRPCError.invalidRequest("createdBy is \(event.createdBy), but the token is signed by \(moderator)")
        }
        let now = Datetime.now()
        let written = try await submit(event.changes(now: now))
        context.logger.info(
            "labels changed by hand",
            metadata: [
                "actor": "\(event.createdBy)", "uri": "\(event.labelSubject)", "create": "\(event.create)",
                "negate": "\(event.negate)", "rows": "\(written.count)",
                "auth": "\(moderator == nil ? "admin token" : "service auth")",
            ])
        // The event's id is the stream position of its last label (or the current head when it
        // changed nothing).
        let id = try written.last?.seq ?? store.lastLabelSeq()
        return JSONResponse.ok(event.view(id: id, createdAt: now.rawValue))
    }

    /// Who may call the admin endpoint: the admin token, or, when moderators are configured, a
    /// service-auth token (a JWT) from one of them. Returns the moderator's DID for a service-auth
    /// caller, nil for the admin token; every refusal is a 401 naming what was wrong.
    func authenticateAdmin(_ request: Request, context: ServerRequestContext) async throws -> String? {
        let authorization = request.headers[.authorization]
        if let adminToken, adminToken.accepts(authorization: authorization) { return nil }
        if let moderators, let token = Self.bearerToken(authorization), ModeratorAuth.isJWT(token) {
            do { return try await moderators.authenticate(token, Self.emitEvent) } catch {
                context.logger.info("admin request refused", metadata: ["reason": "\(error)"])
                var refusal = XRPCError(status: .unauthorized, error: "AuthenticationRequired", message: "\(error)")
                refusal.headers[.wwwAuthenticate] = "Bearer"
                throw refusal
            }
        }
        var error = XRPCError(
            status: .unauthorized, error: "AuthenticationRequired",
            message: moderators == nil
                ? "A valid admin bearer token is required."
                : "A valid admin bearer token or a moderator's service-auth token is required.")
        error.headers[.wwwAuthenticate] = "Bearer"
        throw error
    }

    /// A report from an account, sent through its PDS with a service-auth token. Every refusal of
    /// the token is a 401 naming what was wrong, and nothing is stored. The per-address and overall
    /// limits are counted first, so that a flood is turned away before any DID is resolved; the
    /// reporter's own once the token says who it is.
    func receiveReport(_ request: Request, context: ServerRequestContext, intake: ReportIntake) async throws -> Response
    {
        let address = ClientAddress.key(
            peer: context.channel.remoteAddress?.ipAddress, forwardedFor: request.headers[.init("x-forwarded-for")!])
        if let refusal = intake.limits.admitRequest(from: address) {
            context.logger.info(
                "report refused: rate limit", metadata: ["address": "\(address)", "limit": "\(refusal.limited)"])
            throw intake.limits.error(for: refusal)
        }
        guard let token = Self.bearerToken(request.headers[.authorization]) else {
            var error = XRPCError(
                status: .unauthorized, error: "AuthenticationRequired",
                message: "A service-auth bearer token is required.")
            error.headers[.wwwAuthenticate] = "Bearer"
            throw error
        }
        let reporter: String
        do { reporter = try await intake.authenticate(token, Self.createReport) } catch {
            context.logger.info("report refused", metadata: ["reason": "\(error)"])
            throw XRPCError(status: .unauthorized, error: "AuthenticationRequired", message: "\(error)")
        }
        if let refusal = intake.limits.admitReport(by: reporter) {
            context.logger.info(
                "report refused: rate limit", metadata: ["reporter": "\(reporter)", "limit": "\(refusal.limited)"])
            throw intake.limits.error(for: refusal)
        }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: ReportIntake.maximumBodyBytes)
        } catch {
            throw XRPCError(status: .contentTooLarge, error: "InvalidRequest", message: "The body is too large.")
        }
        let report = try CreateReportRequest(json: String(buffer: body), intake: intake)
        // An appeal asks to lift a decision about the appellant's own account or record; from
        // anyone else it is not an appeal, and filing it as a report would only mislead.
        if StoredReport.appealReasonTypes.contains(report.reasonType), report.subject.ownerDID != reporter {
            throw XRPCError.invalidRequest(
                "Only the account concerned (\(report.subject.ownerDID)) may appeal; \(reporter) is not it")
        }
        let (stored, deduplicated) = try store.fileReport(
            NewReport(
                reasonType: report.reasonType, reason: report.reason, subject: report.subject, reportedBy: reporter,
                createdAt: Datetime.now().rawValue))
        if !deduplicated { intake.filed?() }
        context.logger.info(
            "report received",
            metadata: [
                "id": "\(stored.id)", "reporter": "\(reporter)", "subject": "\(stored.subject.key)",
                "reason_type": "\(report.reasonType)", "deduplicated": "\(deduplicated)",
            ])
        return JSONResponse.ok(CreateReportRequest.view(stored))
    }

    /// The token of an `Authorization: Bearer …` header.
    static func bearerToken(_ authorization: String?) -> String? {
        guard let authorization, authorization.count > 7, authorization.prefix(7).lowercased() == "bearer " else {
            return nil
        }
        let token = authorization.dropFirst(7).drop { $0 == " " }
        return token.isEmpty || token.contains(" ") ? nil : String(token)
    }

    func healthReport() -> Response {
        let reachable = health.databaseReachable?() ?? ((try? store.lastLabelSeq()) != nil)
        let report = HealthReport(
            version: health.version, databaseReachable: reachable, cursor: health.cursor(),
            secondsBehindRelay: health.secondsBehindRelay(), subscribers: broadcaster.subscriberCount)
        return JSONResponse.ok(report.json, status: report.isHealthy ? .ok : .serviceUnavailable)
    }
}
