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

/// The wiring of createReport: `reports.*` keys, and a token made as a PDS makes it, checked
/// against the reporter's document in the in-process PLC directory.
@Suite struct ReportIntakeTests {
    static let labeler = "did:plc:labeleraaaaaaaaaaaaaaaaa"
    static let reporter = "did:plc:reporteraaaaaaaaaaaaaaaa"

    static func token(_ key: SigningKey, audience: String, method: String) throws -> String {
        func part(_ object: [String: Any]) throws -> String {
            Base64.encode(
                Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])), alphabet: .url)
        }
        let now = Int64(Date().timeIntervalSince1970)
        let input =
            try part(["alg": key.type == .secp256k1 ? "ES256K" : "ES256", "typ": "JWT"]) + "."
            + part([
                "iss": reporter, "aud": audience, "lxm": method, "iat": now, "exp": now + 60,
                "jti": UUID().uuidString,
            ])
        return input + "." + Base64.encode(try key.sign(Array(input.utf8)), alphabet: .url)
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

    /// The `reports.per_*` keys are the limits the intake counts with.
    @Test func theConfiguredLimitsReachTheIntake() throws {
        var configuration = LabelerConfiguration()
        configuration.reportsEnabled = true
        configuration.did = Self.labeler
        configuration.reportsPerReporterPerDay = 7
        configuration.reportsPerIPPerMinute = 0
        configuration.reportsPerMinute = 90
        let intake = try #require(
            try LabelerService.reportIntake(
                configuration, assembly: LabelerAssembly(configuration: configuration, environment: [:]),
                identity: IdentityResolver()))
        #expect(intake.limits.configuration == .init(perReporterPerDay: 7, perIPPerMinute: 0, perMinute: 90))
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

    /// A report filed as the app files it (through a PDS, with a service-auth token for our
    /// `#atproto_labeler`) reaches the database; the same token again is a 401.
    @Test func aReportFromTheNetworkIsStored() async throws {
        let network = try TestNetwork()
        let base = try await network.start()
        let key = SigningKey.generate(.secp256k1)
        network.withState {
            $0.plc[Self.reporter] = .init(
                verificationMethods: ["atproto": key.publicKey.didKey], alsoKnownAs: [], services: [:])
        }
        var configuration = try LabelerServiceTests.configuration()
        configuration.did = Self.labeler
        configuration.reportsEnabled = true
        configuration.identityPLCURL = base + "/plc"
        configuration.serverPort = 0
        let service = try LabelerService(configuration: configuration, environment: [:], logger: quietLogger())
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await service.server.run() }
                defer { group.cancelAll() }
                let port = try await service.server.port()
                let method = "com.atproto.moderation.createReport"
                let token = try Self.token(key, audience: Self.labeler + "#atproto_labeler", method: method)
                let body =
                    #"{"reasonType":"com.atproto.moderation.defs#reasonSpam","reason":"spam","subject":{"$type":"com.atproto.admin.defs#repoRef","did":"did:plc:spammeraaaaaaaaaaaaaaaaa"}}"#
                func send() async throws -> (Int, String) {
                    var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/xrpc/\(method)")!)
                    request.httpMethod = "POST"
                    request.httpBody = Data(body.utf8)
                    request.setValue("application/json", forHTTPHeaderField: "Content-Type")
                    request.setValue("Bearer " + token, forHTTPHeaderField: "Authorization")
                    let (data, response) = try await URLSession.shared.data(for: request)
                    return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
                }
                let (status, text) = try await send()
                #expect(status == 200, "\(text)")
                #expect(text.contains(#""reportedBy":"\#(Self.reporter)""#))
                let stored = try service.store.reports()
                #expect(stored.map(\.reportedBy) == [Self.reporter])
                let (again, message) = try await send()
                #expect(again == 401)
                #expect(message.contains("already used"), "\(message)")
                #expect(try service.store.reportCount() == 1)
            }
        } catch {
            await network.stop()
            throw error
        }
        await network.stop()
    }
}
