import ATCrypto
import ATProto
import Foundation
import Identity
import LabelStore
import TestSupport
import Testing

@testable import Labeler

/// The parts every command builds from the configuration.
@Suite struct LabelerAssemblyTests {
    func assembly(did: String = "", environment: [String: String] = [:]) -> LabelerAssembly {
        let folder = temporaryPath("assembly")
        var configuration = LabelerConfiguration()
        configuration.storePath = folder + "/data/labels.sqlite"
        configuration.signingKey = folder + "/data/signing.key"
        configuration.rulesPath = folder + "/rules"
        configuration.did = did
        return LabelerAssembly(configuration: configuration, environment: environment)
    }

    @Test func theDatabaseAndItsFolderAreCreated() throws {
        let parts = assembly()
        let store = try parts.openStore()
        #expect(store.path == parts.configuration.storePath)
        #expect(try store.synchronousLevel() == 2)
    }

    @Test func aKeyIsCreatedOnlyWhenAsked() throws {
        let parts = assembly()
        let refused = #expect(throws: LabelerAssembly.Failure.self) {
            try parts.signingKey(createIfAbsent: false, logger: quietLogger())
        }
        #expect(refused?.description.contains("labeler keys generate") == true)
        let created = try parts.signingKey(createIfAbsent: true, logger: quietLogger())
        #expect(try parts.signingKey(createIfAbsent: false, logger: quietLogger()).publicKey == created.publicKey)
        // The environment's key wins over the file, and needs no file.
        let other = SigningKey.generate(.p256)
        let fromEnvironment = assembly(environment: [SigningKeyLoader.environmentVariable: KeyFile.render(other)])
        #expect(
            try fromEnvironment.signingKey(createIfAbsent: false, logger: quietLogger()).publicKey == other.publicKey)
    }

    @Test func labelsAreSignedAsTheConfiguredDIDOrOnlyByChoiceAsTheKey() throws {
        let key = SigningKey.generate(.secp256k1)
        #expect(try assembly(did: "did:plc:labeler").src(signingWith: key, withoutDID: .refuse) == "did:plc:labeler")
        #expect(throws: LabelerAssembly.Failure("did: 'nope' is not a DID")) {
            try assembly(did: "nope").src(signingWith: key, withoutDID: .allow)
        }
        let refused = #expect(throws: LabelerAssembly.Failure.self) {
            try assembly().src(signingWith: key, withoutDID: .refuse)
        }
        #expect(refused?.description.contains("--allow-did-key-src") == true)
        #expect(try assembly().src(signingWith: key, withoutDID: .warn(quietLogger())) == key.publicKey.didKey)
    }

    @Test func rulesAreEmptyOnlyWhenMissingIsAllowed() throws {
        let parts = assembly()
        #expect(try parts.ruleSet(missingIsEmpty: true, logger: quietLogger()).rules.isEmpty)
        #expect(throws: LabelerAssembly.Failure.self) {
            try parts.ruleSet(missingIsEmpty: false, logger: quietLogger())
        }
        try FileManager.default.createDirectory(
            atPath: parts.configuration.rulesPath, withIntermediateDirectories: true)
        try "rules:\n  - {id: r, on: [post], match: {regex: \"(\"}, label: x}\n".write(
            toFile: parts.configuration.rulesPath + "/r.yaml", atomically: true, encoding: .utf8)
        let broken = #expect(throws: LabelerAssembly.Failure.self) {
            try parts.ruleSet(missingIsEmpty: true, logger: quietLogger())
        }
        #expect(broken?.description.contains("the rules do not load (1 problems)") == true)
    }

    /// At start, the verification gate takes back the inactive accounts heard of within the last
    /// 30 days; older statuses are dropped from the store.
    @Test func inactiveAccountsOlderThanThirtyDaysArePrunedAtStart() throws {
        let now = Datetime.now()
        let day: Int64 = 86_400 * 1_000_000
        #expect(LabelerAssembly.inactiveAccountsCutoff(now: now).unixMicros == now.unixMicros - 30 * day)

        var configuration = LabelerConfiguration()
        configuration.sourceVerify = .enforce
        let parts = LabelerAssembly(configuration: configuration, environment: [:])
        let store = try LabelStore(path: temporaryPath("labels.sqlite"))
        for (did, days) in [("did:plc:thirtyonedays", 31), ("did:plc:twentyninedays", 29)] {
            var transaction = LabelTransaction(
                src: "did:plc:labeler", time: Datetime(unixMicros: now.unixMicros - Int64(days) * day), keyID: 0,
                epoch: try store.snapshotNow(of: [], src: "did:plc:labeler").epoch)
            transaction.accountStatuses = [AccountStatusChange(did: did, status: "suspended")]
            _ = try store.commitNow(transaction)
        }
        #expect(try store.inactiveAccounts(since: Datetime(unixMicros: 0)).count == 2)

        let gate = try parts.verificationGate(
            resolver: IdentityResolver(configuration: .init()), logger: quietLogger(), store: store)
        #expect(gate != nil)
        let kept = try store.inactiveAccounts(since: Datetime(unixMicros: 0))
        #expect(kept.map(\.did) == ["did:plc:twentyninedays"])
        #expect(kept.map(\.status) == ["suspended"])
    }
}
