import ATCrypto
import ATProto
import LabelServer
import LabelStore
import Labeler
import TestSupport
import Testing

@Suite struct SignatureTests {
    /// Every label served, on both endpoints, verifies against the did:key of the key.
    @Test(arguments: [KeyType.secp256k1, .p256])
    func everyServedLabelVerifies(keyType: KeyType) async throws {
        try await Harness.with(keyType: keyType) { h in
            let origin = LabelChange.Origin.rule(id: "t")
            _ = try await h.writer.submit([
                LabelChange(action: .apply, subject: try LabelSubject("did:plc:a"), val: "spam", origin: origin),
                LabelChange(
                    action: .apply, subject: try LabelSubject("at://did:plc:a/app.bsky.feed.post/1"),
                    cid: "bafyreiacmzmmzfukfenvoukzfza4k5cyeqbjjqunee4cpo3rn4vovmcg5m", val: "porn",
                    exp: "2999-01-01T00:00:00.000Z", origin: origin),
                LabelChange(action: .apply, subject: try LabelSubject("did:plc:b"), val: "gone", origin: origin),
            ])
            _ = try await h.writer.submit([
                LabelChange(action: .negate, subject: try LabelSubject("did:plc:b"), val: "gone", origin: origin)
            ])
            try await Self.expectEveryLabelVerifies(h, streamed: 3, queried: 2, signer: h.key.publicKey)
        }
    }

    /// After a key rotation, rows signed by the old key are served re-signed by the new one.
    @Test func rowsOfAnOldKeyAreReSignedWhenServed() async throws {
        let path = temporaryPath("labels.sqlite")
        // Written with one key…
        try await Harness.with(storePath: path) { h in
            try await h.apply(3)
            _ = try await h.writer.submit([
                LabelChange(
                    action: .negate, subject: try LabelSubject("at://did:plc:alice/app.bsky.feed.post/0"), val: "spam",
                    origin: .rule(id: "t")
                )
            ])
        }
        // …served with another.
        let newKey = SigningKey.generate(.p256)
        try await Harness.with(storePath: path, servingKey: newKey) { h in
            let stored = try h.store.labels(after: 0, limit: 10)
            #expect(stored.allSatisfy { !$0.label.verifySignature(with: newKey.publicKey) })
            try await Self.expectEveryLabelVerifies(h, streamed: 3, queried: 2, signer: newKey.publicKey)
        }
    }

    static func expectEveryLabelVerifies(_ h: Harness, streamed: Int, queried: Int, signer: PublicKey) async throws {
        let didKey = signer.didKey
        let verifier = try PublicKey(didKey: didKey)
        let streamedLabels = try await h.subscribe(cursor: "0") { session in
            let last = try h.store.lastLabelSeq()
            return try await session.seqs(through: last).map(\.label)
        }
        #expect(streamedLabels.count == streamed)
        #expect(streamedLabels.contains { $0.neg == true })
        for label in streamedLabels {
            #expect(label.ver == 1)
            #expect(label.sig?.count == 64)
            #expect(label.verifySignature(with: verifier), "\(label)")
        }
        let queriedLabels = try await QueryLabelsTests.page(h, "uriPatterns=*").labels
        #expect(queriedLabels.count == queried)
        for label in queriedLabels {
            #expect(label.ver == 1)
            #expect(label.verifySignature(with: verifier), "\(label)")
        }
    }

    /// `sig` is unpadded base64 in JSON, and `neg`, `cid`, `exp` appear only when set.
    @Test func jsonAndCBORShapes() async throws {
        try await Harness.with { h in
            try await h.apply(1)
            let response = try await h.request("/xrpc/com.atproto.label.queryLabels?uriPatterns=*")
            #expect(response.text.contains(#""sig":{"$bytes":""#))
            #expect(!response.text.contains("="))
            #expect(!response.text.contains(#""neg""#))
            #expect(!response.text.contains(#""cid""#))
            #expect(!response.text.contains(#""exp""#))
            #expect(response.text.contains(#""ver":1"#))
            let frame = try await h.subscribe(cursor: "0") { try await $0.seqs(through: 1) }
            let label = try #require(frame.first?.label)
            #expect(label.neg == nil && label.cid == nil && label.exp == nil)
        }
    }
}
