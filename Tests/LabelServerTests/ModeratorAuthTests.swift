import ATProto
import Hummingbird
import HummingbirdTesting
import LabelServer
import LabelStore
import TestSupport
import Testing

/// The admin endpoint with a moderator's service-auth token beside the admin token. The token
/// check itself (signature, audience, who may sign) is the wiring's; here it is a stand-in that
/// knows two tokens, so what the endpoint does with its answer is tested alone.
@Suite struct ModeratorAuthTests {
    static let moderator = "did:plc:moderator"
    static let good = "eyJhbGciOiJFUzI1NksifQ.eyJpc3MiOiJtb2QifQ.c2ln"
    static let stranger = "eyJhbGciOiJFUzI1NksifQ.eyJpc3MiOiJ4In0.c2ln"

    struct Refused: Error, CustomStringConvertible {
        let description: String
    }

    static let auth = ModeratorAuth { token, method in
        guard method == "tools.ozone.moderation.emitEvent" else { throw Refused(description: "wrong method \(method)") }
        if token == good { return moderator }
        throw Refused(description: "did:plc:stranger may not call \(method) on this labeler")
    }

    static func post(_ h: Harness, token: String, body: String) async throws -> TestClient.Response {
        try await h.request(
            EmitEventTests.path, method: .post,
            headers: [.authorization: "Bearer " + token, .contentType: "application/json"], body: body)
    }

    @Test func aModeratorsTokenLabelsWithoutAnAdminToken() async throws {
        try await Harness.with(over: .router, moderators: Self.auth) { h in
            let response = try await Self.post(
                h, token: Self.good, body: EmitEventTests.body(create: ["spam"], subject: EmitEventTests.repo))
            #expect(response.status == .ok, "\(response.text)")
            #expect(try response.json["createdBy"]?.stringValue == Self.moderator)
            #expect(try h.store.history(of: try LabelSubject("did:plc:target")).first?.actor == Self.moderator)
        }
    }

    @Test func aRefusedTokenIs401WithItsReasonAndChangesNothing() async throws {
        try await Harness.with(over: .router, moderators: Self.auth, configure: { $0.adminToken = "s3cret-token" }) {
            h in
            let body = EmitEventTests.body(create: ["spam"], subject: EmitEventTests.repo)
            let refused = try await Self.post(h, token: Self.stranger, body: body)
            #expect(refused.status == .unauthorized)
            #expect(refused.xrpcError == "AuthenticationRequired")
            #expect(refused.text.contains("may not call tools.ozone.moderation.emitEvent"), "\(refused.text)")
            // Neither a JWT nor the admin token: the message names both ways in.
            let wrong = try await Self.post(h, token: "not-the-token", body: body)
            #expect(wrong.status == .unauthorized)
            #expect(wrong.text.contains("admin bearer token or a moderator's service-auth token"), "\(wrong.text)")
            #expect(try h.store.lastLabelSeq() == 0)
        }
    }

    @Test func theAdminTokenKeepsWorkingBesideModerators() async throws {
        try await Harness.with(over: .router, moderators: Self.auth, configure: { $0.adminToken = "s3cret-token" }) {
            h in
            let response = try await Self.post(
                h, token: "s3cret-token", body: EmitEventTests.body(create: ["spam"], subject: EmitEventTests.repo))
            #expect(response.status == .ok, "\(response.text)")
            // With the admin token, createdBy is whoever the operator says.
            #expect(try response.json["createdBy"]?.stringValue == Self.moderator)
        }
    }

    /// The history names the token's signer; a body claiming someone else acted is refused.
    @Test func createdByMustBeTheTokensSigner() async throws {
        try await Harness.with(over: .router, moderators: Self.auth) { h in
            let body = EmitEventTests.body(create: ["spam"], subject: EmitEventTests.repo)
                .replacingOccurrences(of: Self.moderator, with: "did:plc:someoneelse")
            let response = try await Self.post(h, token: Self.good, body: body)
            #expect(response.status == .badRequest)
            #expect(response.xrpcError == "InvalidRequest")
            #expect(response.text.contains("signed by \(Self.moderator)"), "\(response.text)")
            #expect(try h.store.lastLabelSeq() == 0)
        }
    }
}
