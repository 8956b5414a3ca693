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
        let token = try ServiceAuthToken.mint(
            key, issuer: Self.reporter, audience: Self.labeler + "#atproto_labeler", method: method)
        #expect(try await intake.authenticate(token, method) == Self.reporter)
        // Used once; and a token for someone else is refused with its reason.
        await #expect(throws: ServiceAuthError.self) { try await intake.authenticate(token, method) }
        let elsewhere = try ServiceAuthToken.mint(
            key, issuer: Self.reporter, audience: "did:plc:someoneelseaaaaaaaaaaaaa", method: method)
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
        try await Self.withReportingService(network: network, base: base, ) { service, port in
            let method = "com.atproto.moderation.createReport"
            let token = try ServiceAuthToken.mint(
                key, issuer: Self.reporter, audience: Self.labeler + "#atproto_labeler", method: method)
            let body =
                #"{"reasonType":"com.atproto.moderation.defs#reasonSpam","reason":"spam","subject":{"$type":"com.atproto.admin.defs#repoRef","did":"did:plc:spammeraaaaaaaaaaaaaaaaa"}}"#
            func send() async throws -> (Int, String) {
                let answer = try await postXRPC(port: port, method: method, bearer: token, body: body)
                return (answer.status, answer.text)
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
    }

    /// Done as the app does it, with tokens the reporters' keys sign: one reporter's flood gets
    /// 429s while another still goes through; the labeled account may appeal, nobody else.
    @Test func aFloodIsLimitedWhileOthersGoThroughAndOnlyTheAccountAppeals() async throws {
        let network = try TestNetwork()
        let base = try await network.start()
        let flooder = (did: Self.reporter, key: SigningKey.generate(.secp256k1))
        let other = (did: "did:plc:otherreporteraaaaaaaaaa", key: SigningKey.generate(.p256))
        let spammer = (did: "did:plc:spammeraaaaaaaaaaaaaaaaa", key: SigningKey.generate(.secp256k1))
        network.withState {
            for account in [flooder, other, spammer] {
                $0.plc[account.did] = .init(
                    verificationMethods: ["atproto": account.key.publicKey.didKey], alsoKnownAs: [], services: [:])
            }
        }
        try await Self.withReportingService(
            network: network, base: base, configure: { $0.reportsPerReporterPerDay = 3 },
        ) { service, port in
            let method = "com.atproto.moderation.createReport"
            func send(_ reasonType: String, about subject: String, as issuer: String, _ key: SigningKey)
                async throws -> XRPCAnswer
            {
                let token = try ServiceAuthToken.mint(
                    key, issuer: issuer, audience: Self.labeler + "#atproto_labeler", method: method)
                return try await postXRPC(
                    port: port, method: method, bearer: token,
                    body: #"{"reasonType":"# + DataModelJSON.quote(reasonType)
                        + #","subject":{"$type":"com.atproto.admin.defs#repoRef","did":"#
                        + DataModelJSON.quote(subject) + "}}")
            }
            let spam = "com.atproto.moderation.defs#reasonSpam"
            var statuses: [Int] = []
            var limited: XRPCAnswer?
            for n in 0..<8 {
                let answer = try await send(
                    spam, about: "did:plc:target\(n)aaaaaaaaaaaaaaaaaa", as: flooder.did, flooder.key)
                statuses.append(answer.status)
                if answer.status == 429 { limited = answer }
            }
            #expect(statuses == [200, 200, 200, 429, 429, 429, 429, 429])
            let refusal = try #require(limited)
            #expect(refusal.text.contains(#""error":"RateLimitExceeded""#))
            let headers = refusal.headers
            #expect(headers["ratelimit-limit"] == "3" && headers["ratelimit-remaining"] == "0")
            #expect(headers["ratelimit-policy"] == "3;w=86400" && headers["ratelimit-reset"] != nil)

            let fromOther = try await send(spam, about: spammer.did, as: other.did, other.key)
            #expect(fromOther.status == 200, "\(fromOther.text)")

            let appeal = "com.atproto.moderation.defs#reasonAppeal"
            let notTheirs = try await send(appeal, about: spammer.did, as: other.did, other.key)
            #expect(notTheirs.status == 400 && notTheirs.text.contains(#""error":"InvalidRequest""#))
            let own = try await send(appeal, about: spammer.did, as: spammer.did, spammer.key)
            #expect(own.status == 200, "\(own.text)")
            let stored = try service.store.reports(subject: spammer.did)
            #expect(stored.map(\.reportedBy) == [spammer.did, other.did])
            #expect(stored.first?.appeal == [] && stored.last?.appeal == nil)
            #expect(try service.store.reportCount() == 5)
        }
    }

    /// A service with reports enabled, resolving reporters through `network`'s PLC directory at
    /// `base`, its server running while `body` runs; the network is stopped afterwards either way.
    static func withReportingService(
        network: TestNetwork, base: String, configure: (inout LabelerConfiguration) -> Void = { _ in },
        _ body: (LabelerService, Int) async throws -> Void
    ) async throws {
        var configuration = try LabelerServiceTests.configuration()
        configuration.did = Self.labeler
        configuration.reportsEnabled = true
        configuration.identityPLCURL = base + "/plc"
        configuration.serverPort = 0
        configure(&configuration)
        let service = try LabelerService(configuration: configuration, environment: [:], logger: quietLogger())
        do {
            // Stopped gracefully, never by cancellation (see `ServiceRunner`).
            let running = ServiceRunner([service.server], logger: quietLogger())
            do {
                try await body(service, try await service.server.port())
            } catch {
                await running.stop()
                throw error
            }
            await running.stop()
        } catch {
            await network.stop()
            throw error
        }
        await network.stop()
    }
}
