import ATCrypto
import Testing

/// Signing and verification on both curves: compact 64-byte low-S output, and the strict verifier
/// (PROTOCOL §3.2 steps 4–5).
@Suite("Sign and verify")
struct SignVerifyTests {
    static let curves: [(KeyType, order: String, halfOrder: String)] = [
        (.secp256k1, TestCurve.secp256k1Order, TestCurve.secp256k1HalfOrder),
        (.p256, TestCurve.p256Order, TestCurve.p256HalfOrder),
    ]

    @Test(arguments: KeyType.allCases)
    func roundTripOverRandomMessages(type: KeyType) throws {
        let curve = try #require(Self.curves.first { $0.0 == type })
        let key = SigningKey.generate(type)
        #expect(key.type == type)
        #expect(key.publicKey.type == type)
        for i in 0..<200 {
            let message = TestBytes.random(i % 97)
            let signature = try key.sign(message)
            #expect(signature.count == 64)
            #expect(try TestCurve.isLowS(signature, halfOrderHex: curve.halfOrder))
            #expect(key.publicKey.verify(signature: signature, for: message))
        }
    }

    @Test(arguments: KeyType.allCases)
    func highSTwinIsRejected(type: KeyType) throws {
        let curve = try #require(Self.curves.first { $0.0 == type })
        let key = SigningKey.generate(type)
        for _ in 0..<20 {
            let message = TestBytes.random(40)
            let signature = try key.sign(message)
            let twin = try TestCurve.highSTwin(signature, orderHex: curve.order)
            #expect(try !TestCurve.isLowS(twin, halfOrderHex: curve.halfOrder))
            #expect(!key.publicKey.verify(signature: twin, for: message))
            // The twin is a mathematically valid ECDSA signature; flipping it back restores it.
            #expect(key.publicKey.verify(signature: try TestCurve.highSTwin(twin, orderHex: curve.order), for: message))
        }
    }

    @Test(arguments: KeyType.allCases)
    func derEncodingIsRejected(type: KeyType) throws {
        let key = SigningKey.generate(type)
        let message = Array("der is not accepted".utf8)
        let signature = try key.sign(message)
        let der = TestCurve.der(signature)
        #expect(der.count >= 68 && der.count <= 72)
        #expect(!key.publicKey.verify(signature: der, for: message))
    }

    @Test(arguments: KeyType.allCases)
    func wrongKeyMessageOrShapeIsRejected(type: KeyType) throws {
        let key = SigningKey.generate(type)
        let other = SigningKey.generate(type)
        let message = Array("hello atproto".utf8)
        let signature = try key.sign(message)
        #expect(key.publicKey.verify(signature: signature, for: message))
        #expect(!other.publicKey.verify(signature: signature, for: message))
        #expect(!key.publicKey.verify(signature: signature, for: message + [0]))
        #expect(!key.publicKey.verify(signature: Array(signature.dropLast()), for: message))
        #expect(!key.publicKey.verify(signature: signature + [0], for: message))
        #expect(!key.publicKey.verify(signature: [], for: message))
        #expect(!key.publicKey.verify(signature: [UInt8](repeating: 0, count: 64), for: message))
        var flipped = signature
        flipped[5] ^= 0x10
        #expect(!key.publicKey.verify(signature: flipped, for: message))

        // The same private key on the other curve is a different key.
        let otherCurve: KeyType = type == .secp256k1 ? .p256 : .secp256k1
        let crossed = try SigningKey(type: otherCurve, rawPrivateKey: key.rawPrivateKey)
        #expect(!crossed.publicKey.verify(signature: signature, for: message))
    }

    @Test func secp256k1SignaturesAreDeterministic() throws {
        let key = SigningKey.generate(.secp256k1)
        let message = Array("rfc 6979".utf8)
        #expect(try key.sign(message) == key.sign(message))
    }

    @Test(arguments: KeyType.allCases)
    func privateKeyRangeIsChecked(type: KeyType) throws {
        let curve = try #require(Self.curves.first { $0.0 == type })
        let n = try TestBytes.hex(curve.order)
        var nMinusOne = n
        nMinusOne[31] -= 1
        let invalid: [[UInt8]] = [
            [UInt8](repeating: 0, count: 32), n, [UInt8](repeating: 0xFF, count: 32),
            [UInt8](repeating: 1, count: 31), [UInt8](repeating: 1, count: 33), [],
        ]
        for raw in invalid {
            let error = #expect(throws: CryptoError.self) { try SigningKey(type: type, rawPrivateKey: raw) }
            #expect(error?.kind == .invalidPrivateKey)
        }
        let top = try SigningKey(type: type, rawPrivateKey: nMinusOne)
        #expect(top.rawPrivateKey == nMinusOne)
        let signature = try top.sign([1, 2, 3])
        #expect(top.publicKey.verify(signature: signature, for: [1, 2, 3]))
    }

    @Test(arguments: KeyType.allCases)
    func rawPrivateKeyRoundTrips(type: KeyType) throws {
        let key = SigningKey.generate(type)
        #expect(key.rawPrivateKey.count == 32)
        let again = try SigningKey(type: type, rawPrivateKey: key.rawPrivateKey)
        #expect(again.publicKey == key.publicKey)
    }

    @Test(arguments: KeyType.allCases)
    func descriptionsNeverShowThePrivateKey(type: KeyType) {
        let key = SigningKey.generate(type)
        let secret = TestBytes.hex(key.rawPrivateKey)
        var dumped = ""
        dump(key, to: &dumped)
        for text in [String(describing: key), String(reflecting: key), "\(key)", dumped] {
            #expect(!text.lowercased().contains(secret))
            #expect(text.contains(key.publicKey.didKey))
        }
    }
}
