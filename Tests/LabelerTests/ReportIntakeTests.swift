import ATCrypto
import ATProto
import Foundation
import Identity
import LabelServer
import TestNetwork
import TestSupport
import Testing

@testable import Labeler

/// The wiring of createReport: `reports.*` keys, and a token made as a PDS makes it, checked
/// against the reporter's document in the in-process PLC directory.
@Suite struct ReportIntakeTests {
    static let labeler = "did:plc:labeleraaaaaaaaaaaaaaaaa"
    static let reporter = "did:plc:reporteraaaaaaaaaaaaaaaa"

    static func token(_ key: SigningKey, audience: String, method: String) throws -> String {
        func part(_ object: [String: Any]) throws -> String {
            Base64URL.encode(Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])))
        }
        let now = Int64(Date().timeIntervalSince1970)
        let input =
            try part(["alg": key.type == .secp256k1 ? "ES256K" : "ES256", "typ": "JWT"]) + "."
            + part([
                "iss": reporter, "aud": audience, "lxm": method, "iat": now, "exp": now + 60,
                "jti": UUID().uuidString,
            ])
        return input + "." + Base64URL.encode(try key.sign(Array(input.utf8)))
    }

    @Test func reportsAreOffUnlessEnabledAndThenNeedTheDID() throws {
        let identity = IdentityResolver()
        var configuration = LabelerConfiguration()
        let off = try LabelerService.reportIntake(
            configuration, assembly: LabelerAssembly(configuration: configuration, environment: [:]),
            identity: identity)
        #expect(off == nil)
        configuration.reportsEnabled = true
        #expect(throws: LabelerService.StartError.self) {
            try LabelerService.reportIntake(
                configuration, assembly: LabelerAssembly(configuration: configuration, environment: [:]),
                identity: identity)
        }
    }

    @Test(arguments: KeyType.allCases) func aTokenAsAPDSMakesItPasses(curve: KeyType) async throws {
        let network = try TestNetwork()
        let base = try await network.start()
        do { try await passes(curve, network: network, base: base) } catch {
            await network.stop()
            throw error
        }
        await network.stop()
    }

    func passes(_ curve: KeyType, network: TestNetwork, base: String) async throws {
        let key = SigningKey.generate(curve)
        network.withState {
            $0.plc[Self.reporter] = .init(
                verificationMethods: ["atproto": key.publicKey.didKey], alsoKnownAs: [], services: [:])
        }
        var configuration = LabelerConfiguration()
        configuration.did = Self.labeler
        configuration.reportsEnabled = true
        var resolverConfiguration = IdentityResolver.Configuration()
        resolverConfiguration.plcURL = base + "/plc"
        let intake = try #require(
            try LabelerService.reportIntake(
                configuration, assembly: LabelerAssembly(configuration: configuration, environment: [:]),
                identity: IdentityResolver(configuration: resolverConfiguration)))
        let method = "com.atproto.moderation.createReport"
        let token = try Self.token(key, audience: Self.labeler + "#atproto_labeler", method: method)
        #expect(try await intake.authenticate(token, method) == Self.reporter)
        // Used once; and a token for someone else is refused with its reason.
        await #expect(throws: ServiceAuthError.self) { try await intake.authenticate(token, method) }
        let elsewhere = try Self.token(key, audience: "did:plc:someoneelseaaaaaaaaaaaaa", method: method)
        await #expect(throws: ServiceAuthError.wrongAudience("did:plc:someoneelseaaaaaaaaaaaaa")) {
            try await intake.authenticate(elsewhere, method)
        }
    }

    @Test func theReportKeysAreRead() throws {
        let path = temporaryPath("labeler.yaml")
        try """
        did: did:plc:labeleraaaaaaaaaaaaaaaaa
        reports:
          enabled: true
          reason_types: [tools.ozone.report.defs#reasonViolenceThreats, com.atproto.moderation.defs#reasonSpam]
          subject_types: [record]
          subject_collections: [app.bsky.feed.post]
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let c = try LabelerConfiguration.load(path: path, required: true, environment: [:])
        #expect(c.reportsEnabled)
        #expect(
            c.reportReasonTypes == [
                "tools.ozone.report.defs#reasonViolenceThreats", "com.atproto.moderation.defs#reasonSpam",
            ])
        #expect(c.reportSubjectTypes == ["record"])
        #expect(c.reportSubjectCollections == ["app.bsky.feed.post"])
        for (yaml, problem) in [
            ("reports: {enabled: maybe}", "reports.enabled"),
            ("reports: {reason_types: [com.example#reasonNothing]}", "reports.reason_types"),
            ("reports: {reason_types: []}", "reports.reason_types"),
            ("reports: {subject_types: [message]}", "reports.subject_types"),
            ("reports: {subject_collections: [not a collection]}", "reports.subject_collections"),
        ] {
            try yaml.write(toFile: path, atomically: true, encoding: .utf8)
            do {
                _ = try LabelerConfiguration.load(path: path, required: true, environment: [:])
                Issue.record("\(yaml) must be refused")
            } catch {
                #expect(error.description.contains(problem), "\(error)")
            }
        }
    }
}
