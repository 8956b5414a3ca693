import ATCrypto
import Testing

/// `atproto-interop-tests/crypto/signature-fixtures.json`: valid low-S signatures must verify;
/// high-S and DER-encoded ones must not (PROTOCOL §3.2 step 5).
@Suite("Interop signature fixtures")
struct InteropSignatureTests {
    struct Case: Decodable {
        let comment: String
        let messageBase64: String
        let algorithm: String
        let publicKeyDid: String
        let publicKeyMultibase: String
        let signatureBase64: String
        let validSignature: Bool
        let tags: [String]
    }

    static func cases() throws -> [Case] {
        try CryptoFixtures.decode([Case].self, from: CryptoFixtures.url("crypto/signature-fixtures.json"))
    }

    @Test func fixtureFileHasAllCases() throws {
        let cases = try Self.cases()
        #expect(cases.count == 6)
        #expect(cases.filter(\.validSignature).count == 2)
        #expect(cases.filter { $0.tags.contains("high-s") }.count == 2)
        #expect(cases.filter { $0.tags.contains("der-encoded") }.count == 2)
    }

    @Test func verifiesWithDidKey() throws {
        for c in try Self.cases() {
            let key = try PublicKey(didKey: c.publicKeyDid)
            #expect(key.type == Self.keyType(c.algorithm), "\(c.comment)")
            let signature = try TestBytes.base64(c.signatureBase64)
            let ok = key.verify(signature: signature, for: try TestBytes.base64(c.messageBase64))
            #expect(ok == c.validSignature, "\(c.comment)")
        }
    }

    @Test func verifiesWithLegacyMultibase() throws {
        for c in try Self.cases() {
            let key = try PublicKey(legacyMultibase: c.publicKeyMultibase, type: Self.keyType(c.algorithm))
            #expect(key == (try PublicKey(didKey: c.publicKeyDid)), "\(c.comment)")
            let signature = try TestBytes.base64(c.signatureBase64)
            let ok = key.verify(signature: signature, for: try TestBytes.base64(c.messageBase64))
            #expect(ok == c.validSignature, "\(c.comment)")
        }
    }

    @Test func didKeyRoundTripsExactly() throws {
        for c in try Self.cases() {
            #expect(try PublicKey(didKey: c.publicKeyDid).didKey == c.publicKeyDid)
        }
    }

    static func keyType(_ algorithm: String) -> KeyType {
        algorithm == "ES256K" ? .secp256k1 : .p256
    }
}
