import ATCrypto
import ATProto
import Foundation
import LabelStore
import Testing

/// Rotating the signing key: `labeler keys resign` re-signs what an older key signed, keeping
/// every label's content and seq.
@Suite struct KeyRotationTests {
    @Test(.timeLimit(.minutes(2))) func resignMovesEveryLabelToTheCurrentKey() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "labeler-rotate-\(UUID().uuidString)"
        ).path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let database = folder + "/labels.sqlite"
        let store = try LabelStore(path: database)
        let old = SigningKey.generate(.secp256k1)
        let oldID = try store.keyID(forDIDKey: old.publicKey.didKey, at: "2026-01-01T00:00:00.000Z")
        let changes = try (0..<2_500).map { i in
            LabelChange(
                action: .apply, subject: try LabelSubject("at://did:plc:a/app.bsky.feed.post/\(i)"), val: "spam",
                origin: .rule(id: "r"))
        }
        let before = try store.write(
            changes, src: "did:plc:labeler", now: "2026-01-01T00:00:01.000Z", cursor: nil, keyID: oldID
        ) {
            try $0.signed(with: old)
        }
        // The new key is P-256, to rotate across curves as well.
        let new = SigningKey.generate(.p256)
        try KeyFile.create(at: folder + "/new.key", key: new)

        let resign = try ServiceProcess(
            ["keys", "resign", "--db", database, "--key", folder + "/new.key"], in: folder, environment: [:],
            log: folder + "/log")
        #expect(await resign.wait(timeout: .seconds(60)) == 0, "\(resign.logText)")
        #expect(resign.logText.contains("re-signed 2500 labels with \(new.publicKey.didKey)"), "\(resign.logText)")

        let after = try store.labels(after: 0, limit: 5_000)
        #expect(after.map(\.seq) == before.map(\.seq))
        // What `keys resign` counts as its work ahead: none left for the new key, all for the old.
        let newID = try store.keyID(forDIDKey: new.publicKey.didKey, at: "t")
        #expect(try store.countLabelsSigned(byOtherThan: newID) == 0)
        #expect(try store.countLabelsSigned(byOtherThan: oldID) == 2_500)
        #expect(after.allSatisfy { $0.label.verifySignature(with: new.publicKey) })
        #expect(!after.contains { $0.label.verifySignature(with: old.publicKey) })
        var unsigned = after.map(\.label)
        for i in unsigned.indices { unsigned[i].sig = nil }
        #expect(
            unsigned
                == before.map {
                    var l = $0.label; l.sig = nil; return l
                })
        #expect(
            try store.labelsSigned(
                byOtherThan: try store.keyID(forDIDKey: new.publicKey.didKey, at: "t"), after: 0, limit: 10
            ).isEmpty)

        // Run again: nothing left to do.
        let again = try ServiceProcess(
            ["keys", "resign", "--db", database, "--key", folder + "/new.key"], in: folder, environment: [:],
            log: folder + "/log2")
        #expect(await again.wait(timeout: .seconds(60)) == 0)
        #expect(again.logText.contains("re-signed 0 labels"))
    }
}
