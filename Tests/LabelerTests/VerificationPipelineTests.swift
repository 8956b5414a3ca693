import ATCrypto
import ATProto
import Firehose
import Foundation
import Identity
import LabelStore
import Rules
import Synchronization
import SyntheticFirehose
import TestNetwork
import TestSupport
import Testing

@testable import Labeler

/// `source.verify` in the pipeline, against an in-process PLC directory: signed traffic goes
/// through, forgeries do not (`enforce`) or are only counted (`log`); a rotated key is found by
/// looking again; inactive accounts are not labeled; a slow directory for one account does not
/// hold up the others; a DID whose lookup failed backs off.
@Suite struct VerificationPipelineTests {
    /// An account: its DID, its key, and the repository it writes.
    struct Account {
        let did: String
        var key: SigningKey
        var repo: RepoWriter

        init(_ name: String, _ type: KeyType) {
            did = "did:plc:" + String((name + "aaaaaaaaaaaaaaaaaaaaaaaa").prefix(24))
            key = .generate(type)
            repo = RepoWriter(did: did)
        }

        mutating func commit(_ seq: Int64, _ text: String, signingWith other: SigningKey? = nil) throws -> [UInt8] {
            let signer = other ?? key
            let record: CBORValue = .map([
                "$type": "app.bsky.feed.post", "text": .text(CBORText(text)), "createdAt": "2026-12-02T00:00:00.000Z",
            ])
            return try repo.commit(
                seq: seq, [.create(path: "app.bsky.feed.post/3l\(seq)", record: record)], sign: { try signer.sign($0) })
        }
    }

    /// The directory, with `accounts` registered; the resolver that reads it.
    static func network(_ accounts: [Account]) async throws -> (TestNetwork, IdentityResolver) {
        let network = try TestNetwork()
        let base = try await network.start()
        for account in accounts { register(account.did, key: account.key, on: network) }
        var configuration = IdentityResolver.Configuration()
        configuration.plcURL = base + "/plc"
        configuration.timeout = .seconds(30)
        return (network, IdentityResolver(configuration: configuration))
    }

    static func register(_ did: String, key: SigningKey, on network: TestNetwork) {
        network.withState {
            $0.plc[did] = .init(verificationMethods: ["atproto": key.publicKey.didKey], alsoKnownAs: [], services: [:])
        }
    }

    static func account(_ seq: Int64, _ did: String, active: Bool, status: String? = nil) -> [UInt8] {
        var body: [(String, CBORValue)] = [
            ("seq", .int(seq)), ("did", .text(CBORText(did))), ("time", "2026-12-02T00:00:00.000Z"),
            ("active", .bool(active)),
        ]
        if let status { body.append(("status", .text(CBORText(status)))) }
        return FrameCodec.encodeMessage(type: "#account", body: CBORMap(body))
    }

    static func capture(_ messages: [[UInt8]]) throws -> String {
        let path = temporaryPath("capture.bin")
        let writer = try CaptureWriter(path: path)
        for message in messages { try writer.write(message) }
        try writer.flush()
        return path
    }

    /// Runs a pipeline over `messages` with a gate; returns the seqs of the commits the rules
    /// would have seen, and the summary.
    static func run(
        _ messages: [[UInt8]], mode: VerifyMode, resolver: IdentityResolver,
        verifier: CommitVerifier.Configuration = .init(), concurrency: Int = 4
    ) async throws -> (handled: [Int64], summary: IngestPipeline.Summary, gate: VerificationGate) {
        let gate = VerificationGate(
            mode: mode, verifier: CommitVerifier(resolver: resolver, configuration: verifier), logger: quietLogger())
        let pipeline = IngestPipeline(
            source: CaptureSource(paths: [try capture(messages)]), store: nil,
            configuration: .init(
                scheduler: .init(concurrency: concurrency, queueLimit: 64, perKeyBacklogLimit: 16), verification: gate),
            logger: quietLogger())
        let handled = Mutex<[Int64]>([])
        let summary = try await pipeline.run(handler: { seq, event in
            if case .commit = event { handled.withLock { $0.append(seq) } }
        })
        return (handled.withLock { $0.sorted() }, summary, gate)
    }

    @Test func enforceLabelsSignedCommitsAndRejectsForgeries() async throws {
        var alice = Account("alice", .secp256k1)
        var bob = Account("bob", .p256)
        let (network, resolver) = try await Self.network([alice, bob])
        let messages = [
            try alice.commit(1, "hello"), try bob.commit(2, "hi"),
            try alice.commit(3, "forged", signingWith: .generate(.secp256k1)), try bob.commit(4, "again"),
            try alice.commit(5, "still me"),
        ]

        let enforced = try await Self.run(messages, mode: .enforce, resolver: resolver)
        #expect(enforced.handled == [1, 2, 4, 5])
        #expect(enforced.summary.rejected == 1)
        #expect(enforced.gate.counts.verified == 4)
        #expect(enforced.gate.counts.failed == ["bad_signature": 1])
        #expect(enforced.gate.counts.firstFailures.first?.hasPrefix("seq 3 ") == true)

        let logged = try await Self.run(messages, mode: .log, resolver: resolver)
        #expect(logged.handled == [1, 2, 3, 4, 5])
        #expect(logged.summary.rejected == 0)
        #expect(logged.gate.counts.failed == ["bad_signature": 1])
        await network.stop()
    }

    @Test func aRotatedKeyIsFoundByLookingAgain() async throws {
        var alice = Account("rotating", .secp256k1)
        let (network, resolver) = try await Self.network([alice])
        let first = try RepoEventDecoder().decode(try alice.commit(1, "before"))
        // The directory has the new key; the resolver still holds the old one after the first commit.
        let gate = VerificationGate(mode: .enforce, verifier: CommitVerifier(resolver: resolver), logger: quietLogger())
        #expect(await gate.check(seq: 1, first) == nil)
        let retired = alice.key
        alice.key = .generate(.p256)
        Self.register(alice.did, key: alice.key, on: network)
        let second = try RepoEventDecoder().decode(try alice.commit(2, "after"))
        #expect(await gate.check(seq: 2, second) == nil)
        #expect(gate.counts.verified == 2)
        #expect(await resolver.fetches == 2)

        // A commit signed with the retired key is a forgery now, even though it was cached once.
        let third = try RepoEventDecoder().decode(try alice.commit(3, "old key", signingWith: retired))
        #expect(await gate.check(seq: 3, third)?.reason == .badSignature)
        await network.stop()
    }

    @Test func inactiveAccountsAreNotLabeledUntilActiveAgain() async throws {
        var alice = Account("inactive", .secp256k1)
        let (network, resolver) = try await Self.network([alice])
        let messages = [
            try alice.commit(1, "one"), Self.account(2, alice.did, active: false, status: "takendown"),
            try alice.commit(3, "two"), Self.account(4, alice.did, active: false, status: "throttled"),
            try alice.commit(5, "three"), Self.account(6, alice.did, active: true), try alice.commit(7, "four"),
        ]
        let run = try await Self.run(messages, mode: .enforce, resolver: resolver)
        // `throttled` is about a hop, not the account: it does not lift `takendown` either.
        #expect(run.handled == [1, 7])
        #expect(run.gate.counts.failed == ["inactive_account": 2])
        #expect(run.summary.rejected == 2)
        await network.stop()
    }

    /// An account's inactive status is stored with the cursor that passes its `#account` event:
    /// after a restart (a new gate, from the assembly, over the same database) its commits are
    /// still refused, until an event says it is active again.
    @Test func anInactiveAccountStaysInactiveAcrossARestart() async throws {
        var alice = Account("restarting", .secp256k1)
        let (network, resolver) = try await Self.network([alice])
        let store = try LabelStore(path: temporaryPath("labels.sqlite"))
        var configuration = LabelerConfiguration()
        configuration.sourceVerify = .enforce
        let assembly = LabelerAssembly(configuration: configuration, environment: [:])

        func run(_ messages: [[UInt8]]) async throws -> (handled: [Int64], rejected: Int) {
            let gate = try #require(
                try assembly.verificationGate(resolver: resolver, logger: quietLogger(), store: store))
            let source = CaptureSource(paths: [try Self.capture(messages)])
            let writer = try LabelWriter(
                store: store, src: "did:plc:labeler", key: .generate(.secp256k1), logger: quietLogger(),
                eventSource: source.cursorName)
            let labeler = EventLabeler(
                evaluator: RuleEvaluator(holder: RuleSetHolder(.empty)), writer: writer, logger: quietLogger())
            let pipeline = IngestPipeline(
                source: source, store: store, configuration: .init(verification: gate), logger: quietLogger())
            let handled = Mutex<[Int64]>([])
            let writing = Task { await writer.run() }
            let summary = try await pipeline.run(
                handler: { seq, event in
                    if case .commit = event { handled.withLock { $0.append(seq) } }
                    try await labeler.handle(seq: seq, event: event)
                },
                cursorAdvanced: { writer.cursorAdvanced(to: $0) }, restartSource: { try await writer.restartSource() })
            writing.cancel()
            await writing.value
            return (handled.withLock { $0.sorted() }, summary.rejected)
        }

        let first = try await run([
            try alice.commit(1, "one"), Self.account(2, alice.did, active: false, status: "suspended"),
        ])
        #expect(first.handled == [1])
        #expect(try store.inactiveAccounts(since: Datetime(unixMicros: 0)).map(\.did) == [alice.did])
        // The same database, a new process: the capture goes on after the stored cursor.
        let commitAfter = try alice.commit(3, "two")
        let second = try await run([
            try alice.commit(1, "one"), Self.account(2, alice.did, active: false, status: "suspended"), commitAfter,
        ])
        #expect(second.handled.isEmpty && second.rejected == 1)
        let third = try await run([
            try alice.commit(1, "one"), Self.account(2, alice.did, active: false, status: "suspended"), commitAfter,
            Self.account(4, alice.did, active: true), try alice.commit(5, "three"),
        ])
        #expect(third.handled == [5])
        #expect(try store.inactiveAccounts(since: Datetime(unixMicros: 0)).isEmpty)
        await network.stop()
    }

    @Test func aSlowDirectoryForOneAccountDoesNotHoldUpTheOthers() async throws {
        var slow = Account("slowpoke", .secp256k1)
        var quick = Account("quick", .p256)
        let (network, resolver) = try await Self.network([slow, quick])
        network.withState { $0.heldDIDs.insert(slow.did) }
        var messages = [try slow.commit(1, "waiting")]
        for seq in 2...6 { messages.append(try quick.commit(Int64(seq), "post \(seq)")) }

        let gate = VerificationGate(
            mode: .enforce, verifier: CommitVerifier(resolver: resolver, configuration: .init(lookupsInFlight: 2)),
            logger: quietLogger())
        let pipeline = IngestPipeline(
            source: CaptureSource(paths: [try Self.capture(messages)]), store: nil,
            configuration: .init(
                scheduler: .init(concurrency: 4, queueLimit: 64, perKeyBacklogLimit: 16), verification: gate),
            logger: quietLogger())
        let handled = Mutex<[Int64]>([])
        let running = Task {
            try await pipeline.run(handler: { seq, _ in handled.withLock { $0.append(seq) } })
        }
        try await waitUntil("the quick account's commits") { handled.withLock { Set($0) } == Set(2...6) }
        #expect(!handled.withLock { $0.contains(1) })
        network.withState { _ = $0.heldDIDs.remove(slow.did) }
        let summary = try await running.value
        #expect(handled.withLock { $0.sorted() } == [1, 2, 3, 4, 5, 6])
        #expect(summary.rejected == 0)
        #expect(gate.counts.verified == 6)
        await network.stop()
    }

    @Test func aDIDWhoseLookupFailedBacksOff() async throws {
        var ghost = Account("ghost", .secp256k1)
        let (network, resolver) = try await Self.network([])  // not registered: the directory says 404
        let messages = [try ghost.commit(1, "one"), try ghost.commit(2, "two"), try ghost.commit(3, "three")]
        let run = try await Self.run(
            messages, mode: .enforce, resolver: resolver, verifier: .init(failureBackoff: .seconds(3600)))
        #expect(run.handled.isEmpty)
        #expect(run.gate.counts.failed == ["key_unavailable": 3])
        let lookups = run.gate.verifier.lookupCounts
        #expect(lookups.failures == 1)
        #expect(lookups.backedOff == 2)
        #expect(network.calls.filter { $0.contains(ghost.did) }.count == 1)
        await network.stop()
    }

    @Test func configurationKeys() throws {
        var configuration = LabelerConfiguration()
        #expect(configuration.sourceVerify == .off)
        try configuration.apply(
            yaml: "source:\n  verify: enforce\nidentity:\n  lookups_in_flight: 3\n  failure_backoff: 2m\n",
            file: "t.yaml")
        #expect(configuration.sourceVerify == .enforce)
        #expect(configuration.identityLookupsInFlight == 3)
        #expect(configuration.identityFailureBackoff == .seconds(120))
        try configuration.apply(environment: ["LABELER_SOURCE_VERIFY": "log"])
        #expect(configuration.sourceVerify == .log)
        #expect(throws: LabelerConfiguration.Error.self) {
            try configuration.apply(environment: ["LABELER_SOURCE_VERIFY": "sometimes"])
        }
        #expect(throws: LabelerConfiguration.Error.self) {
            try configuration.apply(environment: ["LABELER_IDENTITY_LOOKUPS_IN_FLIGHT": "0"])
        }
    }
}

/// `source.verify` in `labeler run`'s assembly: its gate, its metrics, and the refusal with Jetstream.
@Suite struct VerifyServiceTests {
    @Test func theServiceVerifiesWhenAskedAndShowsItsCounters() throws {
        var configuration = try LabelerServiceTests.configuration()
        let off = try LabelerService(configuration: configuration, environment: [:], logger: quietLogger())
        #expect(off.pipeline.configuration.verification == nil)
        #expect(!off.metrics.render().contains("labeler_verify_"))

        configuration.sourceVerify = .enforce
        configuration.identityLookupsInFlight = 3
        let service = try LabelerService(configuration: configuration, environment: [:], logger: quietLogger())
        let gate = try #require(service.pipeline.configuration.verification)
        #expect(gate.mode == .enforce)
        #expect(gate.verifier.configuration.lookupsInFlight == 3)
        let metrics = service.metrics.render()
        for reason in CommitVerificationError.Reason.names {
            #expect(metrics.contains("labeler_verify_failed_total{reason=\"\(reason)\"} 0"))
        }
        #expect(metrics.contains("labeler_verify_verified_total 0"))
        #expect(metrics.contains("labeler_identity_cache_misses_total 0"))
    }

    @Test func jetstreamCannotBeVerified() throws {
        var configuration = try LabelerServiceTests.configuration()
        configuration.sourceKind = .jetstream
        configuration.sourceURL = "wss://jetstream.example/subscribe"
        configuration.sourceVerify = .log
        #expect(throws: LabelerService.StartError.self) {
            try LabelerService(configuration: configuration, environment: [:], logger: quietLogger())
        }
    }
}
