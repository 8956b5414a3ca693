import ATCrypto
import ATProto
import Testing

/// did:key / Multikey encoding (PROTOCOL §5) against the W3C-derived interop fixtures, plus the
/// shapes a decoder must refuse.
@Suite("did:key and Multikey")
struct DIDKeyTests {
    struct K256Case: Decodable {
        let privateKeyBytesHex: String
        let publicDidKey: String
    }

    struct P256Case: Decodable {
        let privateKeyBytesBase58: String
        let publicDidKey: String
    }

    @Test func k256PrivateKeysGiveExpectedDidKeys() throws {
        let cases = try CryptoFixtures.decode([K256Case].self, from: CryptoFixtures.url("crypto/w3c_didkey_K256.json"))
        #expect(cases.count == 5)
        for c in cases {
            let key = try SigningKey(type: .secp256k1, rawPrivateKey: try TestBytes.hex(c.privateKeyBytesHex))
            #expect(key.publicKey.didKey == c.publicDidKey)
            #expect(try PublicKey(didKey: c.publicDidKey) == key.publicKey)
        }
    }

    @Test func p256PrivateKeysGiveExpectedDidKeys() throws {
        let cases = try CryptoFixtures.decode([P256Case].self, from: CryptoFixtures.url("crypto/w3c_didkey_P256.json"))
        #expect(cases.count == 1)
        for c in cases {
            let raw = try Base58.decode(c.privateKeyBytesBase58.utf8)
            let key = try SigningKey(type: .p256, rawPrivateKey: raw)
            #expect(key.publicKey.didKey == c.publicDidKey)
            #expect(try PublicKey(didKey: c.publicDidKey) == key.publicKey)
        }
    }

    @Test(arguments: [(KeyType.secp256k1, "did:key:zQ3s"), (KeyType.p256, "did:key:zDn")])
    func generatedKeysRoundTrip(type: KeyType, prefix: String) throws {
        for _ in 0..<20 {
            let key = SigningKey.generate(type).publicKey
            #expect(key.compressed.count == 33)
            #expect(key.compressed[0] == 2 || key.compressed[0] == 3)
            #expect(key.didKey.hasPrefix(prefix))
            #expect(key.didKey == "did:key:" + key.multikey)
            #expect(try PublicKey(didKey: key.didKey) == key)
            #expect(try PublicKey(didKey: key.multikey) == key)
            #expect(try PublicKey(multikey: key.multikey) == key)
            #expect(try PublicKey(type: type, compressedOrUncompressed: key.compressed) == key)
        }
    }

    /// The protocol document's decoded vector: `zQ3shcnfWLQN…` → `e7 01 | 02 e479…`.
    @Test func decodesDocumentedVector() throws {
        let key = try PublicKey(multikey: "zQ3shcnfWLQN1bY4d2patsEAYFzy4xp1zdckEvHsV7S4ocTnC")
        #expect(key.type == .secp256k1)
        #expect(TestBytes.hex(key.compressed) == "02e479e24ce6d3d218fd866ed491b48348b2974162f530f29343f5a73b2476705d")
    }

    /// Private key 1 has the base point G as its public key, which gives fixed uncompressed and
    /// compressed forms to check conversions against.
    @Test func generatorPointConversions() throws {
        let one = [UInt8](repeating: 0, count: 31) + [1]
        let generators: [(KeyType, String, String)] = [
            (
                .secp256k1,
                "0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
                    + "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8",
                "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
            ),
            (
                .p256,
                "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
                    + "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5",
                "036b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
            ),
        ]
        for (type, uncompressedHex, compressedHex) in generators {
            let fromPrivate = try SigningKey(type: type, rawPrivateKey: one).publicKey
            #expect(TestBytes.hex(fromPrivate.compressed) == compressedHex)
            let uncompressed = try TestBytes.hex(uncompressedHex)
            let fromUncompressed = try PublicKey(type: type, compressedOrUncompressed: uncompressed)
            #expect(fromUncompressed == fromPrivate)
            let legacy = try PublicKey(legacyMultibase: "z" + Base58.encode(uncompressed), type: type)
            #expect(legacy == fromPrivate)

            var offCurve = uncompressed
            offCurve[64] ^= 1
            #expect(throws: CryptoError.self) { try PublicKey(type: type, compressedOrUncompressed: offCurve) }
        }
    }

    @Test func rejectsMalformedDidKeys() throws {
        let valid = SigningKey.generate(.secp256k1).publicKey
        var codecAndKey = Varint.encode(0xE7) + valid.compressed
        let truncated = "z" + Base58.encode(codecAndKey.dropLast())
        codecAndKey[2] = 0x05  // not a point-format byte
        let badFormatByte = "z" + Base58.encode(codecAndKey)
        let ed25519 = "z" + Base58.encode(Varint.encode(0xED) + [UInt8](repeating: 7, count: 32))
        // x = p (all 0xFF is above the field prime for both curves) cannot be a point.
        let notAPoint = "z" + Base58.encode(Varint.encode(0x1200) + [0x02] + [UInt8](repeating: 0xFF, count: 32))

        let inputs: [(String, CryptoError.Kind)] = [
            ("", .invalidDIDKey),
            ("did:key:", .invalidDIDKey),
            ("did:key:" + String(valid.multikey.dropFirst()), .invalidDIDKey),  // no 'z'
            ("did:key:bafyabc", .invalidDIDKey),  // base32 is not a Multikey encoding
            ("did:key:zQ3s0OIl", .invalidDIDKey),  // characters outside base58
            ("did:key:" + truncated, .invalidPublicKey),
            ("did:key:" + badFormatByte, .invalidPublicKey),
            ("did:key:" + ed25519, .unsupportedKeyType),
            ("did:key:" + notAPoint, .invalidPublicKey),
        ]
        for (input, kind) in inputs {
            let error = #expect(throws: CryptoError.self, "\(input)") { try PublicKey(didKey: input) }
            #expect(error?.kind == kind, "\(input): \(error?.description ?? "")")
        }
    }

    @Test func rejectsWrongLengthRawKeys() {
        for type in KeyType.allCases {
            for count in [0, 32, 34, 64, 66] {
                #expect(throws: CryptoError.self) {
                    try PublicKey(type: type, compressedOrUncompressed: [UInt8](repeating: 2, count: count))
                }
            }
        }
    }
}
