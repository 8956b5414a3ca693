import ATCrypto
import ATProto
import Testing

/// `derived/signature-vectors.json`: a real label signature (indigo's `TestVerifyLabel`) and a real
/// repo commit signature from a relay frame.
@Suite("Derived signature vectors")
struct SignatureVectorTests {
    struct Vectors: Decodable {
        let labels: [LabelVector]
        let commits: [CommitVector]
    }

    struct LabelVector: Decodable {
        struct Bytes: Decodable {
            let bytes: String
            enum CodingKeys: String, CodingKey { case bytes = "$bytes" }
        }

        struct LabelJSON: Decodable {
            let ver: Int64
            let src: String
            let uri: String
            let cid: String?
            let val: String
            let neg: Bool?
            let cts: String
            let exp: String?
            let sig: Bytes?
        }

        let publicKeyDid: String
        let publicKeyMultibase: String
        let publicKeyCompressedHex: String
        let labelJson: LabelJSON
        let unsignedCborHex: String
        let sha256Hex: String
        let sigHex: String
        let mutatedUnsignedCborHex: String
    }

    struct CommitVector: Decodable {
        let publicKeyMultibase: String
        let commitCid: String
        let signedCommitCborHex: String
        let unsignedCommitCborHex: String
        let sigHex: String
    }

    static func vectors() throws -> Vectors {
        try CryptoFixtures.decode(Vectors.self, from: CryptoFixtures.derivedURL("signature-vectors.json"))
    }

    static func label(from json: LabelVector.LabelJSON) throws -> Label {
        Label(
            ver: json.ver, src: json.src, uri: json.uri, cid: json.cid, val: json.val, neg: json.neg, cts: json.cts,
            exp: json.exp, sig: try json.sig.map { try TestBytes.base64($0.bytes) })
    }

    @Test func labelVectorVerifies() throws {
        let vectors = try Self.vectors()
        let v = try #require(vectors.labels.first)
        let label = try Self.label(from: v.labelJson)
        let key = try PublicKey(didKey: v.publicKeyDid)
        #expect(key == (try PublicKey(multikey: v.publicKeyMultibase)))
        #expect(TestBytes.hex(key.compressed) == v.publicKeyCompressedHex)

        #expect(TestBytes.hex(label.unsignedBytes()) == v.unsignedCborHex)
        #expect(TestBytes.hex(CID.compute(for: label.unsignedBytes()).digest) == v.sha256Hex)
        #expect(label.sig.map(TestBytes.hex) == v.sigHex)
        #expect(label.verifySignature(with: key))

        var mutated = label
        mutated.val = "wrong"
        #expect(TestBytes.hex(mutated.unsignedBytes()) == v.mutatedUnsignedCborHex)
        #expect(!mutated.verifySignature(with: key))

        var unsigned = label
        unsigned.sig = nil
        #expect(!unsigned.verifySignature(with: key))
        #expect(!label.verifySignature(with: SigningKey.generate(.secp256k1).publicKey))
    }

    @Test func commitVectorVerifies() throws {
        let vectors = try Self.vectors()
        let v = try #require(vectors.commits.first)
        let key = try PublicKey(multikey: v.publicKeyMultibase)
        let signed = try TestBytes.hex(v.signedCommitCborHex)
        let unsigned = try TestBytes.hex(v.unsignedCommitCborHex)
        let sig = try TestBytes.hex(v.sigHex)

        // The unsigned bytes are the signed commit with `sig` removed, and the CID covers the signed form.
        let decoded = try CBORDecoder().decode(signed)
        #expect(decoded["sig"]?.bytesValue.map { Array($0) } == sig)
        let withoutSig = try #require(decoded.mapValue).removing("sig")
        #expect(CBOREncoder.encode(.map(withoutSig)) == unsigned)
        #expect(CID.compute(for: signed).description == v.commitCid)

        #expect(key.verify(signature: sig, for: unsigned))
        #expect(!key.verify(signature: sig, for: signed))
        var tampered = unsigned
        tampered[tampered.count - 1] ^= 1
        #expect(!key.verify(signature: sig, for: tampered))
    }

    @Test func signedLabelsVerifyOnBothCurves() throws {
        let base = Label(
            src: "did:plc:n3timvoib5nau7gvwd6cshap",
            uri: "at://did:plc:44ybard66vv44zksje25o7dz/app.bsky.feed.post/3l6oveex3ii2l",
            val: "spam", cts: "2024-10-23T17:51:19.128Z")
        for type in KeyType.allCases {
            let key = SigningKey.generate(type)
            let label = try base.signed(with: key)
            #expect(label.sig?.count == 64)
            #expect(label.verifySignature(with: key.publicKey))
            #expect(label.unsignedBytes() == base.unsignedBytes())

            var negated = label
            negated.neg = true
            #expect(!negated.verifySignature(with: key.publicKey))
            #expect(!label.verifySignature(with: SigningKey.generate(type).publicKey))

            // Re-signing replaces the old signature rather than covering it.
            let resigned = try label.signed(with: key)
            #expect(resigned.verifySignature(with: key.publicKey))
        }
    }
}
