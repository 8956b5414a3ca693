import ATCrypto
import ATProto
import Foundation
import Identity
import LabelServer
import LabelStore
import SyntheticFirehose
import TestNetwork
import TestRelay
import TestSupport
import Testing

@testable import Labeler

/// `labeler doctor` against a labeler that is up (its server on a local port), an in-process PDS
/// and PLC directory, and a local relay: first with everything right, then with each thing wrong.
@Suite struct DoctorTests {
    static let did = "did:plc:doctordoctordoctordoctor"

    /// Everything a passing doctor needs, running.
    final class World: Sendable {
        let network: TestNetwork
        let base: String
        let relay: TestRelay
        let store: LabelStore
        let key: SigningKey
        let writer: LabelWriter
        let server: LabelServer
        let serverRunner: ServiceRunner
        let writerTask: Task<Void, Never>
        let configuration: LabelerConfiguration
        let policies: ServicePolicies

        init(
            network: TestNetwork, base: String, relay: TestRelay, store: LabelStore, key: SigningKey,
            writer: LabelWriter, server: LabelServer, serverRunner: ServiceRunner, writerTask: Task<Void, Never>,
            configuration: LabelerConfiguration, policies: ServicePolicies
        ) {
            self.network = network
            self.base = base
            self.relay = relay
            self.store = store
            self.key = key
            self.writer = writer
            self.server = server
            self.serverRunner = serverRunner
            self.writerTask = writerTask
            self.configuration = configuration
            self.policies = policies
        }

        func stop() async {
            await serverRunner.stop()
            writerTask.cancel()
            await writerTask.value
            await network.stop()
            await relay.stop()
        }

        func doctor(
            configuration: LabelerConfiguration? = nil, policies: ServicePolicies? = nil,
            failure: LabelerAssembly.Failure? = nil
        ) async -> [LabelerDoctor.Check] {
            let base = base
            let doctor = LabelerDoctor(timeout: .seconds(30)) { assembly throws(LabelerAssembly.Failure) in
                var resolver = IdentityResolver.Configuration()
                resolver.plcURL = base + "/plc"
                resolver.origin = { host in base + "/web/" + host }
                _ = assembly
                return IdentityResolver(configuration: resolver)
            }
            let loaded: Result<LabelerConfiguration, LabelerAssembly.Failure> =
                failure.map { .failure($0) } ?? .success(configuration ?? self.configuration)
            return await doctor.run(
                .init(configuration: loaded, environment: [:], policies: .success(policies ?? self.policies)))
        }
    }

    static func policies() throws -> ServicePolicies {
        let definitions: [[String: Any]] = [
            [
                "identifier": "coffee", "severity": "inform", "blurs": "none", "defaultSetting": "warn",
                "adultOnly": false,
                "locales": [["lang": "en", "name": "Coffee", "description": "Mentions coffee"]],
            ]
        ]
        return ServicePolicies(
            labelValues: ["coffee"], definitions: try JSONSerialization.data(withJSONObject: definitions),
            emittedValues: ["coffee"])
    }

    func withWorld(_ body: (World) async throws -> Void) async throws {
        let folder = temporaryPath("doctor")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var configuration = LabelerConfiguration()
        configuration.did = Self.did
        configuration.storePath = folder + "/labels.sqlite"
        configuration.signingKey = folder + "/signing.key"
        configuration.rulesPath = folder + "/rules"

        let network = try TestNetwork()
        let base = try await network.start()
        var generator = SyntheticFirehose(seed: 5, accounts: 3)
        let relay = try await TestRelay(messages: generator.messages(20))
        configuration.sourceURL = relay.url

        let assembly = LabelerAssembly(configuration: configuration, environment: [:])
        let key = try assembly.signingKey(createIfAbsent: true, logger: quietLogger())
        let store = try assembly.openStore()
        let writer = try LabelWriter(store: store, src: Self.did, key: key, logger: quietLogger())
        let server = try LabelServer(
            configuration: .init(host: "127.0.0.1", port: 0), store: store, signingKey: key, keyID: writer.currentKeyID,
            submit: { try await writer.submit($0) }, commits: writer.commits,
            health: HealthProvider(version: "test", cursor: { nil }, secondsBehindRelay: { nil }),
            metrics: MetricsRegistry(), logger: quietLogger())
        let writerTask = Task { await writer.run() }
        // Stopped gracefully, never by cancellation (see `ServiceRunner`).
        let serverRunner = ServiceRunner([server], logger: quietLogger())
        let port = try await server.port()
        configuration.publicURL = "http://127.0.0.1:\(port)"

        let policies = try Self.policies()
        let record = policies.serviceRecord(createdAt: "2026-12-02T10:00:00.000Z")
        let recordJSON = try JSONSerialization.data(withJSONObject: record)
        network.withState {
            var account = TestNetwork.Account(did: Self.did, handle: "doctor.test", password: "pw")
            account.records["app.bsky.labeler.service/self"] = recordJSON
            $0.accounts[Self.did] = account
            $0.plc[Self.did] = .init(
                verificationMethods: ["atproto": key.publicKey.didKey, "atproto_label": key.publicKey.didKey],
                alsoKnownAs: ["at://doctor.test"],
                services: [
                    "atproto_pds": .init(type: "AtprotoPersonalDataServer", endpoint: base),
                    "atproto_labeler": .init(type: "AtprotoLabeler", endpoint: configuration.publicURL),
                ])
        }
        let world = World(
            network: network, base: base, relay: relay, store: store, key: key, writer: writer, server: server,
            serverRunner: serverRunner, writerTask: writerTask, configuration: configuration, policies: policies)
        do { try await body(world) } catch {
            await world.stop()
            throw error
        }
        await world.stop()
    }

    /// The check called `name` (a failed stand-in when the doctor did not run it).
    func check(_ name: String, in checks: [LabelerDoctor.Check]) -> LabelerDoctor.Check {
        checks.first { $0.name == name } ?? LabelerDoctor.Check(name, ok: false, "the doctor did not run \(name)")
    }

    @Test func everyCheckPassesOnALabelerThatIsRight() async throws {
        try await withWorld { world in
            let checks = await world.doctor()
            #expect(checks.map(\.name) == LabelerDoctor.names)
            for check in checks { #expect(check.ok, "\(check.name): \(check.message)") }
            #expect(check("relay", in: checks).message.contains("reachable"))
        }
    }

    @Test func aConfigurationThatDoesNotLoadFailsEveryCheck() async throws {
        try await withWorld { world in
            let checks = await world.doctor(failure: .init("labeler.yaml:3:9: server.port: must be a whole number"))
            #expect(checks.count == LabelerDoctor.names.count && checks.allSatisfy { !$0.ok })
            #expect(checks[0].message.hasPrefix("labeler.yaml:3:9: server.port"))
        }
    }

    @Test func aKeyOthersCanReadFails() async throws {
        try await withWorld { world in
            try FileManager.default.setAttributes(
                [.posixPermissions: 0o644], ofItemAtPath: world.configuration.signingKey)
            let result = check("signing_key", in: await world.doctor())
            #expect(!result.ok && result.message.contains("chmod 600"))
        }
    }

    @Test func anUnknownDIDFailsAndSaysWhy() async throws {
        try await withWorld { world in
            var configuration = world.configuration
            configuration.did = "did:plc:nobodynobodynobodynobody"
            let checks = await world.doctor(configuration: configuration)
            #expect(!check("did_document", in: checks).ok)
            #expect(check("label_key", in: checks).message.hasPrefix("not checked"))
        }
    }

    @Test func aLabelKeyThatIsNotOursFails() async throws {
        try await withWorld { world in
            let other = SigningKey.generate(.p256).publicKey.didKey
            world.network.withState { $0.plc[Self.did]?.verificationMethods["atproto_label"] = other }
            let result = check("label_key", in: await world.doctor())
            #expect(!result.ok && result.message.contains(other) && result.message.contains("labeler declare"))
        }
    }

    @Test func labelsStillSignedWithAnOldKeyFail() async throws {
        try await withWorld { world in
            // Labels signed with a key that was since rotated away.
            let old = SigningKey.generate(.secp256k1)
            let writer = try LabelWriter(store: world.store, src: Self.did, key: old, logger: quietLogger())
            let task = Task { await writer.run() }
            try await writer.submit([
                LabelChange(
                    action: .apply, subject: try LabelSubject("did:plc:44ybard66vv44zksje25o7dz"), val: "coffee",
                    origin: .manual(actor: "t"))
            ])
            task.cancel()
            await task.value
            let result = check("label_key", in: await world.doctor())
            #expect(!result.ok && result.message.contains("labeler keys resign"))
        }
    }

    @Test func anEndpointWithAPathOrElsewhereFails() async throws {
        try await withWorld { world in
            world.network.withState {
                $0.plc[Self.did]?.services["atproto_labeler"]?.endpoint = world.configuration.publicURL + "/xrpc"
            }
            var result = check("labeler_endpoint", in: await world.doctor())
            #expect(!result.ok && result.message.contains("has a path"))
            world.network.withState { $0.plc[Self.did]?.services["atproto_labeler"] = nil }
            result = check("labeler_endpoint", in: await world.doctor())
            #expect(!result.ok && result.message.contains("no #atproto_labeler"))
            var remote = world.configuration
            remote.publicURL = "http://labeler.example.com"
            result = check("labeler_endpoint", in: await world.doctor(configuration: remote))
            #expect(!result.ok)
        }
    }

    @Test func aMissingOrStaleServiceRecordFails() async throws {
        try await withWorld { world in
            var changed = world.policies
            changed.labelValues = ["coffee", "tea"]
            changed.emittedValues = ["coffee", "tea"]
            let checks = await world.doctor(policies: changed)
            #expect(check("service_record", in: checks).message.contains("labeler declare"))
            #expect(!check("service_record", in: checks).ok)
            // The published record does not declare a value the rules now emit.
            #expect(check("label_values", in: checks).message.contains("does not declare tea"))

            world.network.withState { $0.accounts[Self.did]?.records = [:] }
            let missing = check("service_record", in: await world.doctor())
            #expect(!missing.ok && missing.message.contains("no app.bsky.labeler.service record"))
        }
    }

    @Test func undefinedOrMalformedValuesFail() async throws {
        try await withWorld { world in
            var undefined = world.policies
            undefined.emittedValues = ["coffee", "decaf"]
            var result = check("label_values", in: await world.doctor(policies: undefined))
            #expect(!result.ok && result.message.contains("decaf"))
            var malformed = world.policies
            malformed.emittedValues = ["Coffee Beans"]
            result = check("label_values", in: await world.doctor(policies: malformed))
            #expect(!result.ok && result.message.contains("Coffee Beans"))
        }
    }

    @Test func aPublicURLThatIsNotTheLabelerFails() async throws {
        try await withWorld { world in
            // Something answers health checks there, but no label stream.
            var proxy = world.configuration
            proxy.publicURL = world.base
            var checks = await world.doctor(configuration: proxy)
            #expect(check("public_health", in: checks).ok)
            #expect(!check("public_stream", in: checks).ok)
            // Nothing listens there at all.
            var closed = world.configuration
            closed.publicURL = "http://127.0.0.1:1"
            checks = await world.doctor(configuration: closed)
            #expect(!check("public_health", in: checks).ok)
            #expect(!check("public_stream", in: checks).ok)
        }
    }

    @Test func anUnreachableRelayFails() async throws {
        try await withWorld { world in
            var configuration = world.configuration
            configuration.sourceURL = "ws://127.0.0.1:1"
            let result = check("relay", in: await world.doctor(configuration: configuration))
            #expect(!result.ok && result.message.contains("ws://127.0.0.1:1"))
        }
    }
}
