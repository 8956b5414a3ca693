import ATProto
import Foundation
import Hummingbird
import HummingbirdTesting
import LabelStore
import Synchronization
import Testing

@testable import LabelServer

/// `com.atproto.moderation.createReport` over the router: tokens are checked by a stand-in for the
/// service-auth verifier (`good:<did>` passes as that DID), so these tests are about the route;
/// the verifier has its own.
@Suite struct CreateReportTests {
    struct Refused: Error, CustomStringConvertible {
        let description: String
    }

    /// How many tokens the stand-in verifier was asked to check.
    final class TokenChecks: Sendable {
        let count = Atomic<Int>(0)
    }

    static let path = "/xrpc/com.atproto.moderation.createReport"
    static let reporter = "did:plc:reporteraaaaaaaaaaaaaaaa"
    static let post = "at://did:plc:spammeraaaaaaaaaaaaaaaaa/app.bsky.feed.post/3kabc"
    static let cid = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"

    static func intake(
        reasonTypes: [String] = ReportIntake.defaultReasonTypes, subjectTypes: [String] = ReportIntake.subjectTypes,
        collections: [String] = [], limits: ReportLimits = ReportLimits(), checked: TokenChecks? = nil
    ) -> ReportIntake {
        ReportIntake(
            reasonTypes: reasonTypes, subjectTypes: subjectTypes, subjectCollections: collections, limits: limits,
            authenticate: { token, method in
                checked?.count.add(1, ordering: .relaxed)
                guard method == "com.atproto.moderation.createReport" else { throw Refused(description: "wrong lxm") }
                guard token.hasPrefix("good:") else { throw Refused(description: "the token signature is bad") }
                return String(token.dropFirst(5))
            })
    }

    static func recordBody(reasonType: String = "com.atproto.moderation.defs#reasonSpam", reason: String? = "spam")
        -> String
    {
        var json = #"{"reasonType":"# + DataModelJSON.quote(reasonType)
        if let reason { json += #","reason":"# + DataModelJSON.quote(reason) }
        json += #","subject":{"$type":"com.atproto.repo.strongRef","uri":"\#(post)","cid":"\#(cid)"}}"#
        return json
    }

    static let accountBody =
        #"{"reasonType":"com.atproto.moderation.defs#reasonRude","subject":{"$type":"com.atproto.admin.defs#repoRef","did":"did:plc:spammeraaaaaaaaaaaaaaaaa"}}"#

    func send(_ h: Harness, _ body: String, token: String? = "good:\(Self.reporter)") async throws
        -> TestClient.Response
    {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let token { headers[.authorization] = "Bearer " + token }
        return try await h.request(Self.path, method: .post, headers: headers, body: body)
    }

    @Test func withoutReportsEnabledItIs501() async throws {
        try await Harness.with(over: .router) { h in
            let response = try await send(h, Self.recordBody())
            #expect(response.status == .notImplemented)
            #expect(response.xrpcError == "MethodNotImplemented")
        }
    }

    @Test func aReportIsStoredAndEchoed() async throws {
        try await Harness.with(over: .router, reports: Self.intake()) { h in
            let response = try await send(h, Self.recordBody())
            #expect(response.status == .ok)
            let json = try response.json
            #expect(json["id"]?.intValue == 1)
            #expect(json["reasonType"]?.stringValue == "com.atproto.moderation.defs#reasonSpam")
            #expect(json["reason"]?.stringValue == "spam")
            #expect(json["reportedBy"]?.stringValue == Self.reporter)
            #expect(json["subject"]?["$type"]?.stringValue == "com.atproto.repo.strongRef")
            #expect(json["subject"]?["uri"]?.stringValue == Self.post)
            #expect(json["subject"]?["cid"]?.stringValue == Self.cid)
            #expect(json["createdAt"]?.stringValue.map(Datetime.isValid) == true)
            let stored = try #require(try h.store.report(id: 1))
            #expect(stored.reportedBy == Self.reporter && stored.state == .open)

            let account = try await send(h, Self.accountBody)
            #expect(account.status == .ok)
            #expect(try account.json["subject"]?["did"]?.stringValue == "did:plc:spammeraaaaaaaaaaaaaaaaa")
            #expect(try h.store.reportCount() == 2)
        }
    }

    /// A repeat is the same report: one row, a `repeated` entry, and the rules are not told of a
    /// new report (`filed` is called for new reports only).
    @Test func theSameReporterAndSubjectIsDeduplicated() async throws {
        var intake = Self.intake()
        let filed = Atomic<Int>(0)
        intake.filed = { filed.add(1, ordering: .relaxed) }
        try await Harness.with(over: .router, reports: intake) { h in
            let first = try await send(h, Self.recordBody(reason: "first"))
            let again = try await send(h, Self.recordBody(reason: "again"))
            #expect(again.status == .ok)
            #expect(try again.json["id"] == first.json["id"])
            #expect(try h.store.reportCount() == 1)
            #expect(try h.store.reportActions(id: 1).map(\.action) == ["filed", "repeated"])
            #expect(filed.load(ordering: .relaxed) == 1)
            let other = try await send(h, Self.recordBody(), token: "good:did:plc:otheraaaaaaaaaaaaaaaaaaa")
            #expect(try other.json["id"]?.intValue == 2)
            #expect(filed.load(ordering: .relaxed) == 2)
        }
    }

    @Test func everyAuthFailureIsA401AndStoresNothing() async throws {
        try await Harness.with(over: .router, reports: Self.intake()) { h in
            for token in [nil, "", "bad", "good"] as [String?] {
                let response = try await send(h, Self.recordBody(), token: token)
                #expect(response.status == .unauthorized, "\(token ?? "no token")")
                #expect(response.xrpcError == "AuthenticationRequired")
                #expect(try response.json["message"]?.stringValue?.isEmpty == false)
            }
            let basic = try await h.request(
                Self.path, method: .post, headers: [.authorization: "Basic Zm9vOmJhcg=="], body: Self.recordBody())
            #expect(basic.status == .unauthorized)
            let refused = try await send(h, Self.recordBody(), token: "bad")
            #expect(try refused.json["message"]?.stringValue == "the token signature is bad")
            #expect(try h.store.reportCount() == 0)
        }
    }

    @Test func reasonTypesAndSubjectsAreChecked() async throws {
        try await Harness.with(over: .router, reports: Self.intake()) { h in
            for body in [
                Self.recordBody(reasonType: "com.example#reasonWhatever"),
                // Known, but not among the defaults.
                Self.recordBody(reasonType: "tools.ozone.report.defs#reasonViolenceThreats"),
                #"{"reasonType":"com.atproto.moderation.defs#reasonSpam"}"#,
                #"{"reasonType":"com.atproto.moderation.defs#reasonSpam","subject":{"$type":"com.atproto.admin.defs#repoRef","did":"alice"}}"#,
                #"{"reasonType":"com.atproto.moderation.defs#reasonSpam","subject":{"$type":"com.atproto.repo.strongRef","uri":"at://did:plc:spammeraaaaaaaaaaaaaaaaa","cid":"\#(Self.cid)"}}"#,
                #"{"reasonType":"com.atproto.moderation.defs#reasonSpam","subject":{"$type":"com.atproto.repo.strongRef","uri":"\#(Self.post)"}}"#,
                #"{"reasonType":"com.atproto.moderation.defs#reasonSpam","subject":{"$type":"chat.bsky.convo.defs#messageRef"}}"#,
                #"{"reasonType":1,"subject":{}}"#,
                "not json",
            ] {
                let response = try await send(h, body)
                #expect(response.status == .badRequest, "\(body)")
                #expect(response.xrpcError == "InvalidRequest", "\(body)")
            }
            #expect(try h.store.reportCount() == 0)
        }
        let ozone = "tools.ozone.report.defs#reasonViolenceThreats"
        try await Harness.with(
            over: .router,
            reports: Self.intake(reasonTypes: [ozone], subjectTypes: ["record"], collections: ["app.bsky.feed.post"])
        ) { h in
            let ozoneReport = try await send(h, Self.recordBody(reasonType: ozone))
            #expect(ozoneReport.status == .ok)
            // Accounts are not taken, nor the default reason types, nor other collections.
            let profile = Self.recordBody(reasonType: ozone).replacingOccurrences(
                of: "app.bsky.feed.post", with: "app.bsky.actor.profile")
            for body in [Self.accountBody, Self.recordBody(), profile] {
                let response = try await send(h, body)
                #expect(response.status == .badRequest, "\(body)")
            }
            #expect(try h.store.reportCount() == 1)
        }
    }

    @Test func aLongReasonIs413() async throws {
        try await Harness.with(over: .router, reports: Self.intake()) { h in
            let limit = ReportIntake.maximumReasonBytes
            #expect(try await send(h, Self.recordBody(reason: String(repeating: "é", count: limit / 2))).status == .ok)
            let long = try await send(
                h, Self.recordBody(reason: String(repeating: "é", count: limit / 2 + 1)), token: "good:did:plc:other")
            #expect(long.status == .contentTooLarge)
            let huge = try await send(
                h, Self.recordBody(reason: String(repeating: "a", count: ReportIntake.maximumBodyBytes)),
                token: "good:did:plc:other")
            #expect(huge.status == .contentTooLarge)
            #expect(try h.store.reportCount() == 1)
        }
    }

    /// One reporter over its daily limit gets 429s with the `ratelimit-*` headers and stores
    /// nothing more; another reporter still goes through.
    @Test func aFloodFromOneReporterIs429WhileOthersGoThrough() async throws {
        let limits = ReportLimits(.init(perReporterPerDay: 5, perIPPerMinute: 0, perMinute: 0))
        try await Harness.with(over: .router, reports: Self.intake(limits: limits)) { h in
            var statuses: [HTTPResponse.Status] = []
            var refusal: TestClient.Response?
            for i in 0..<40 {
                let body = Self.recordBody().replacingOccurrences(of: "3kabc", with: "3k\(i)")
                let response = try await send(h, body)
                statuses.append(response.status)
                if response.status == .tooManyRequests { refusal = response }
            }
            #expect(statuses.prefix(5).allSatisfy { $0 == .ok })
            #expect(statuses.dropFirst(5).allSatisfy { $0 == .tooManyRequests })
            let limited = try #require(refusal)
            #expect(limited.xrpcError == "RateLimitExceeded")
            #expect(try limited.json["message"]?.stringValue?.contains("per day") == true)
            #expect(limited.headers[.init("ratelimit-limit")!] == "5")
            #expect(limited.headers[.init("ratelimit-remaining")!] == "0")
            #expect(limited.headers[.init("ratelimit-policy")!] == "5;w=86400")
            let reset = try #require(limited.headers[.init("ratelimit-reset")!].flatMap { Int64($0) })
            let now = Int64(Date().timeIntervalSince1970)
            #expect(reset > now + 86_000 && reset <= now + 86_401)
            #expect(try h.store.reportCount() == 5)
            #expect(
                h.metrics.render().contains(#"labeler_reports_rate_limited_total{limit="per_reporter_per_day"} 35"#))
            #expect(h.metrics.render().contains(#"labeler_reports_rate_limited_total{limit="per_minute"} 0"#))

            let other = try await send(h, Self.recordBody(), token: "good:did:plc:otheraaaaaaaaaaaaaaaaaaa")
            #expect(other.status == .ok)
            #expect(try h.store.reportCount() == 6)
        }
    }

    /// The per-address and overall limits turn a flood away before its tokens are checked (which
    /// would resolve DIDs).
    @Test func theAddressLimitComesBeforeTheToken() async throws {
        let checked = TokenChecks()
        let limits = ReportLimits(.init(perReporterPerDay: 0, perIPPerMinute: 4, perMinute: 0))
        try await Harness.with(over: .router, reports: Self.intake(limits: limits, checked: checked)) { h in
            var statuses: [HTTPResponse.Status] = []
            for _ in 0..<20 { statuses.append(try await send(h, Self.recordBody(), token: "bad").status) }
            #expect(statuses.prefix(4).allSatisfy { $0 == .unauthorized })
            #expect(statuses.dropFirst(4).allSatisfy { $0 == .tooManyRequests })
            #expect(checked.count.load(ordering: .relaxed) == 4)
            let refused = try await send(h, Self.recordBody())
            #expect(refused.status == .tooManyRequests)
            #expect(try refused.json["message"]?.stringValue?.contains("from one address") == true)
            #expect(refused.headers[.init("ratelimit-policy")!] == "4;w=60")
            #expect(try h.store.reportCount() == 0)
        }
        let overall = ReportLimits(.init(perReporterPerDay: 0, perIPPerMinute: 0, perMinute: 3))
        try await Harness.with(over: .router, reports: Self.intake(limits: overall, checked: checked)) { h in
            for i in 0..<6 {
                let response = try await send(h, Self.recordBody(), token: "good:did:plc:reporter\(i)")
                #expect(response.status == (i < 3 ? .ok : .tooManyRequests))
            }
            #expect(checked.count.load(ordering: .relaxed) == 7)
        }
    }

    /// Over a socket the address is the connection's peer; a loopback peer is the proxy, and the
    /// client is the address it appended to `X-Forwarded-For`, each with its own budget.
    @Test func behindTheProxyEachClientAddressHasItsOwnLimit() async throws {
        let limits = ReportLimits(.init(perReporterPerDay: 0, perIPPerMinute: 2, perMinute: 0))
        try await Harness.with(over: .socket, reports: Self.intake(limits: limits)) { h in
            func send(from client: String?) async throws -> HTTPResponse.Status {
                var headers: HTTPFields = [.contentType: "application/json", .authorization: "Bearer bad"]
                if let client { headers[.init("x-forwarded-for")!] = "203.0.113.250, " + client }
                return try await h.request(Self.path, method: .post, headers: headers, body: Self.recordBody()).status
            }
            var statuses: [HTTPResponse.Status] = []
            for client in ["198.51.100.1", "198.51.100.2"] {
                for _ in 0..<3 { statuses.append(try await send(from: client)) }
            }
            // The first address of the header is the client's own say, not a budget of its own.
            statuses.append(try await send(from: "198.51.100.1"))
            for _ in 0..<3 { statuses.append(try await send(from: nil)) }
            #expect(
                statuses == [
                    .unauthorized, .unauthorized, .tooManyRequests, .unauthorized, .unauthorized, .tooManyRequests,
                    .tooManyRequests, .unauthorized, .unauthorized, .tooManyRequests,
                ])
        }
    }

    /// A muted reporter gets the answer anyone gets; its report is stored muted.
    @Test func aMutedReporterIsAnsweredAsUsual() async throws {
        try await Harness.with(over: .router, reports: Self.intake()) { h in
            try h.store.muteReporter(
                Self.reporter, until: nil, actor: "mod", note: nil, at: Datetime.now().rawValue)
            let response = try await send(h, Self.recordBody())
            #expect(response.status == .ok)
            let json = try response.json
            #expect(json["reportedBy"]?.stringValue == Self.reporter)
            #expect(json["muted"] == nil)
            let id = try #require(json["id"]?.intValue)
            #expect(try h.store.report(id: id)?.muted == true)
            #expect(try h.store.reports().isEmpty)
        }
    }

    static let spammer = "did:plc:spammeraaaaaaaaaaaaaaaaa"

    /// An appeal comes from the account it concerns (the record's repository, or the account
    /// itself) and is linked to the labels on its subject; from anyone else it is a 400.
    @Test func onlyTheAccountConcernedMayAppeal() async throws {
        let ozoneAppeal = "tools.ozone.report.defs#reasonAppeal"
        let intake = Self.intake(reasonTypes: ReportIntake.defaultReasonTypes + [ozoneAppeal])
        try await Harness.with(over: .router, reports: intake) { h in
            try await h.apply(1, prefix: Self.post.replacingOccurrences(of: "3kabc", with: ""), val: "spam", from: 0)
            let labeled = Self.post.replacingOccurrences(of: "3kabc", with: "0")
            let appeal = Self.recordBody(reasonType: "com.atproto.moderation.defs#reasonAppeal", reason: "not spam")
                .replacingOccurrences(of: Self.post, with: labeled)
            let refused = try await send(h, appeal)
            #expect(refused.status == .badRequest && refused.xrpcError == "InvalidRequest")
            #expect(try refused.json["message"]?.stringValue?.contains(Self.spammer) == true)
            #expect(try h.store.reportCount() == 0)

            let granted = try await send(h, appeal, token: "good:\(Self.spammer)")
            #expect(granted.status == .ok)
            let id = try #require(try granted.json["id"]?.intValue)
            let stored = try #require(try h.store.report(id: id))
            #expect(stored.appeal?.map(\.val) == ["spam"] && stored.appeal?.first?.uri == labeled)
            #expect(stored.jsonLine.contains(#""appeal":[{"val":"spam""#))

            // The account itself, with the ozone reason type; nothing is on it.
            let account = Self.accountBody.replacingOccurrences(
                of: "com.atproto.moderation.defs#reasonRude", with: ozoneAppeal)
            #expect(try await send(h, account).status == .badRequest)
            let own = try await send(h, account, token: "good:\(Self.spammer)")
            #expect(own.status == .ok)
            let accountAppealID = try #require(try own.json["id"]?.intValue)
            let accountAppeal = try #require(try h.store.report(id: accountAppealID))
            #expect(accountAppeal.appeal == [])
            // Other reports are not appeals.
            _ = try await send(h, Self.recordBody())
            #expect(try h.store.reports().first?.appeal == nil)
        }
    }

    @Test func onlyPOST() async throws {
        try await Harness.with(over: .router, reports: Self.intake()) { h in
            let response = try await h.request(Self.path)
            #expect(response.status == .methodNotAllowed)
        }
    }
}
