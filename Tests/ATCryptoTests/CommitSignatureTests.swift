import ATCrypto
import ATProto
import Testing

/// Repo commit signatures: a real relay commit, and commits signed here on both curves, then
/// tampered with or checked against the wrong key.
@Suite struct CommitSignatureTests {
    static let data = CID.compute(for: Array("an MST root".utf8))

    @Test func aRealCommitVerifies() throws {
        let vector = try #require(try SignatureVectorTests.vectors().commits.first)
        let commit = try SignedCommit(block: try TestBytes.hex(vector.signedCommitCborHex)[...])
        #expect(commit.unsignedBytes == (try TestBytes.hex(vector.unsignedCommitCborHex)))
        #expect(commit.verifySignature(with: try PublicKey(multikey: vector.publicKeyMultibase)))
        #expect(!commit.verifySignature(with: SigningKey.generate(.secp256k1).publicKey))
    }

    @Test(arguments: KeyType.allCases)
    func signedHereVerifies(type: KeyType) throws {
        let key = SigningKey.generate(type)
        let block = try SignedCommit.signedBlock(did: "did:plc:abc", rev: "3l2abcdefgh22", data: Self.data, key: key)
        let commit = try SignedCommit(block: block[...])
        #expect(commit.did == "did:plc:abc")
        #expect(commit.rev == "3l2abcdefgh22")
        #expect(commit.data == Self.data)
        #expect(commit.prev == nil)
        #expect(commit.signature.count == 64)
        #expect(commit.verifySignature(with: key.publicKey))

        // Another key of the same curve, and the same key on the other curve's verifier.
        #expect(!commit.verifySignature(with: SigningKey.generate(type).publicKey))
        let other: KeyType = type == .p256 ? .secp256k1 : .p256
        #expect(!commit.verifySignature(with: SigningKey.generate(other).publicKey))
    }

    @Test(arguments: KeyType.allCases)
    func tamperedCommitsDoNotVerify(type: KeyType) throws {
        let key = SigningKey.generate(type)
        let block = try SignedCommit.signedBlock(did: "did:plc:abc", rev: "3l2abcdefgh22", data: Self.data, key: key)
        let decoded = try #require(try CBORDecoder().decode(block).mapValue)

        // A field changed after signing.
        let otherRev = CBOREncoder.encode(.map(decoded.setting("rev", to: "3l2abcdefgh23")))
        #expect(!(try SignedCommit(block: otherRev[...])).verifySignature(with: key.publicKey))

        // A signature bit flipped, or the signature cut short.
        var sig = try #require(decoded["sig"]?.bytesValue.map(Array.init))
        sig[10] ^= 0x01
        let flipped = CBOREncoder.encode(.map(decoded.setting("sig", to: .bytes(sig[...]))))
        #expect(!(try SignedCommit(block: flipped[...])).verifySignature(with: key.publicKey))
        let short = CBOREncoder.encode(.map(decoded.setting("sig", to: .bytes(sig[..<63]))))
        #expect(!(try SignedCommit(block: short[...])).verifySignature(with: key.publicKey))
    }
}
