import ATCrypto
import ATProto
import Foundation
import Identity
import LabelServer
import LabelStore
import TestNetwork
import TestSupport
import Testing

@testable import Labeler

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `tools.ozone.moderation.emitEvent` with service-auth tokens made here with ATCrypto, as a
/// moderator's PDS mints them, checked against DID documents in the in-process PLC directory:
/// the labeler's own account and `reports.moderators` may label; anyone else, or a token for
/// another method, gets a 401; the admin token keeps working.
@Suite struct ModeratorServiceAuthTests {
    static let labeler = ReportIntakeTests.labeler
    static let method = "tools.ozone.moderation.emitEvent"
    static let moderator = "did:plc:moderatoraaaaaaaaaaaaaaa"
    static let stranger = "did:plc:strangeraaaaaaaaaaaaaaaa"
    static let target = "did:plc:targetaaaaaaaaaaaaaaaaaa"

    static func body(createdBy: String, label: String) -> String {
        #"{"event":{"$type":"tools.ozone.moderation.defs#modEventLabel","createLabelVals":["#
            + DataModelJSON.quote(label)
            + #"],"negateLabelVals":[]},"subject":{"$type":"com.atproto.admin.defs#repoRef","did":"#
            + DataModelJSON.quote(target) + #"},"createdBy":"# + DataModelJSON.quote(createdBy) + "}"
    }

    @Test func ourAccountAndTheModeratorsLabelOthersAre401AndTheAdminTokenStillWorks() async throws {
        let network = try TestNetwork()
        let base = try await network.start()
        let own = SigningKey.generate(.secp256k1)
        let moderator = SigningKey.generate(.p256)
        let stranger = SigningKey.generate(.secp256k1)
        network.withState {
            for (did, key) in [(Self.labeler, own), (Self.moderator, moderator), (Self.stranger, stranger)] {
                $0.plc[did] = .init(
                    verificationMethods: ["atproto": key.publicKey.didKey], alsoKnownAs: [], services: [:])
            }
        }
        try await ReportIntakeTests.withReportingService(
            network: network, base: base,
            configure: {
                $0.adminToken = "an-admin-token"
                $0.reportModerators = [Self.moderator]
            }
        ) { service, port in
            let writing = Task { await service.writer.run() }
            defer { writing.cancel() }
            func token(_ key: SigningKey, _ issuer: String, method: String = Self.method) throws -> String {
                try ServiceAuthToken.mint(key, issuer: issuer, audience: Self.labeler, method: method)
            }

            let byUs = try await postXRPC(
                port: port, method: Self.method, bearer: try token(own, Self.labeler),
                body: Self.body(createdBy: Self.labeler, label: "spam"))
            #expect(byUs.status == 200, "\(byUs.text)")
            let byModerator = try await postXRPC(
                port: port, method: Self.method, bearer: try token(moderator, Self.moderator),
                body: Self.body(createdBy: Self.moderator, label: "rude"))
            #expect(byModerator.status == 200, "\(byModerator.text)")

            // A valid token from someone who is not a moderator: refused before their DID is looked up.
            let byStranger = try await postXRPC(
                port: port, method: Self.method, bearer: try token(stranger, Self.stranger),
                body: Self.body(createdBy: Self.stranger, label: "nudity"))
            #expect(byStranger.status == 401 && byStranger.text.contains(#""error":"AuthenticationRequired""#))
            #expect(byStranger.text.contains("may not call \(Self.method)"), "\(byStranger.text)")
            #expect(!network.calls.contains { $0.contains(Self.stranger) })
            // A moderator's token minted for another method, or signed by another key.
            let otherMethod = try await postXRPC(
                port: port, method: Self.method,
                bearer: try token(moderator, Self.moderator, method: "com.atproto.moderation.createReport"),
                body: Self.body(createdBy: Self.moderator, label: "nudity"))
            #expect(otherMethod.status == 401 && otherMethod.text.contains("is for method"), "\(otherMethod.text)")
            let forged = try await postXRPC(
                port: port, method: Self.method, bearer: try token(SigningKey.generate(.p256), Self.moderator),
                body: Self.body(createdBy: Self.moderator, label: "nudity"))
            #expect(forged.status == 401 && forged.text.contains("does not verify"), "\(forged.text)")

            let byAdmin = try await postXRPC(
                port: port, method: Self.method, bearer: "an-admin-token",
                body: Self.body(createdBy: Self.moderator, label: "sexual"))
            #expect(byAdmin.status == 200, "\(byAdmin.text)")

            let history = try service.store.history(of: try LabelSubject(Self.target))
            #expect(Set(history.map(\.val)) == ["spam", "rude", "sexual"])
            #expect(history.first { $0.val == "spam" }?.actor == Self.labeler)
            #expect(history.first { $0.val == "rude" }?.actor == Self.moderator)
        }
    }

    @Test func theModeratorsKeyIsReadAndChecked() throws {
        let path = temporaryPath("labeler.yaml")
        try "did: \(Self.labeler)\nreports:\n  moderators: [\(Self.moderator)]\n".write(
            toFile: path, atomically: true, encoding: .utf8)
        #expect(
            try LabelerConfiguration.load(path: path, required: true, environment: [:]).reportModerators == [
                Self.moderator
            ])
        let fromEnvironment = try LabelerConfiguration.load(
            path: path, required: true,
            environment: ["LABELER_REPORTS_MODERATORS": "\(Self.moderator), \(Self.stranger)"])
        #expect(fromEnvironment.reportModerators == [Self.moderator, Self.stranger])
        try "reports:\n  moderators: [alice.test]\n".write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try LabelerConfiguration.load(path: path, required: true, environment: [:])
            Issue.record("a moderator that is not a DID must be refused")
        } catch {
            #expect(error.description.contains("reports.moderators"), "\(error)")
            #expect(error.description.contains("'alice.test' is not a DID"), "\(error)")
        }
    }

    /// Without a DID there is no audience to check: service auth is off, and moderators listed
    /// anyway stop the start with one line.
    @Test func moderatorsNeedTheLabelersDID() throws {
        var configuration = LabelerConfiguration()
        let assembly = { LabelerAssembly(configuration: configuration, environment: [:]) }
        #expect(
            try LabelerService.moderatorAuth(configuration, assembly: assembly(), identity: IdentityResolver()) == nil)
        configuration.reportModerators = [Self.moderator]
        #expect(throws: LabelerService.StartError.self) {
            try LabelerService.moderatorAuth(configuration, assembly: assembly(), identity: IdentityResolver())
        }
        configuration.did = Self.labeler
        #expect(
            try LabelerService.moderatorAuth(configuration, assembly: assembly(), identity: IdentityResolver()) != nil)
    }
}
