import Testing

@testable import ATProto

@Suite struct MultibaseTests {
    @Test func cidStringFormsFromTheSpec() throws {
        let bytes = hex("01711220026658cc968a291b5751592e41c57458240294c28d213827bb716f2aeab046eb")
        let cid = try CID(bytes: bytes)
        #expect(cid.string == "bafyreiacmzmmzfukfenvoukzfza4k5cyeqbjjqunee4cpo3rn4vovmcg5m")
        #expect(try CID(string: cid.string) == cid)
        #expect(cid.bytes == bytes)
        #expect(cid.isBlessed)
        #expect(
            CID.compute(for: [UInt8](), codec: CID.raw).string
                == "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")
    }

    @Test func cidMatchesItsBlock() {
        let block = CBOREncoder.encode(.map(["a": 1]))
        let cid = CID.compute(for: block)
        #expect(cid.matches(block: block[...]))
        var tampered = block
        tampered[tampered.count - 1] ^= 1
        #expect(!cid.matches(block: tampered[...]))
    }

    @Test func cidV0AndOtherHashes() throws {
        let v0 = try CID(string: "QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n")
        #expect(v0.version == 0)
        #expect(v0.codec == CID.dagPB)
        #expect(v0.string == "QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n")
        #expect(!v0.isBlessed)
        // identity multihash (0x00) with a 3-byte digest: parses, is not blessed, round-trips.
        let identity = try CID(bytes: [0x01, 0x55, 0x00, 0x03, 0x61, 0x62, 0x63])
        #expect(identity.digest == [0x61, 0x62, 0x63])
        #expect(try CID(string: identity.string) == identity)
    }

    @Test(arguments: [
        "", "b", "bafy", "xafyreiacmzmmzfukfenvoukzfza4k5cyeqbjjqunee4cpo3rn4vovmcg5m",
        "bafyreiacmzmmzfukfenvoukzfza4k5cyeqbjjqunee4cpo3rn4vovmcg5m1",
        "bafyreiacmzmmzfukfenvoukzfza4k5cyeqbjjqunee4cpo3rn4vovmcg5", "Qm123",
    ])
    func badCIDStrings(_ s: String) {
        #expect(throws: CID.Error.self) { try CID(string: s) }
    }

    @Test func base58AndBase32RoundTrip() throws {
        var rng = SystemRandomNumberGenerator()
        for length in [0, 1, 2, 5, 32, 35, 64] {
            for _ in 0..<20 {
                var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
                if length > 2 { bytes[0] = 0 }  // leading zeros are significant in base58
                #expect(try Base58.decode(Base58.encode(bytes).utf8) == bytes)
                #expect(try Base32.decode(Base32.encode(bytes).utf8) == bytes)
                #expect(Base64.decode(Base64.encode(bytes)) == bytes)
                #expect(Base64.decode(Base64.encode(bytes, padded: true)) == bytes)
                #expect(Base64.decode(Base64.encode(bytes, alphabet: .url), alphabet: .url) == bytes)
            }
        }
        #expect(
            Base58.encode(hex("e701" + "02e479e24ce6d3d218fd866ed491b48348b2974162f530f29343f5a73b2476705d"))
                == "Q3shcnfWLQN1bY4d2patsEAYFzy4xp1zdckEvHsV7S4ocTnC")
        #expect(throws: Multibase.Error.self) { try Base58.decode("0OIl".utf8) }
        #expect(throws: Multibase.Error.self) { try Multibase.decode("mAAAA") }
        #expect(Base64.decode("ab$d") == nil)
        #expect(Base64.decode("a") == nil)
        // The two alphabets differ in two digits, and each refuses the other's.
        #expect(Base64.encode([0xfb, 0xff]) == "+/8" && Base64.encode([0xfb, 0xff], alphabet: .url) == "-_8")
        #expect(Base64.decode("-_8", alphabet: .url) == [0xfb, 0xff] && Base64.decode("-_8") == nil)
        #expect(Base64.decode("+/8", alphabet: .url) == nil)
    }

    @Test func varints() throws {
        for value: UInt64 in [0, 1, 127, 128, 300, 16383, 16384, UInt64(Int64.max)] {
            let encoded = Varint.encode(value)
            #expect(try Varint.read(from: encoded) == (value, encoded.count))
        }
        #expect(throws: Varint.Error.nonMinimal) { try Varint.read(from: [0x80, 0x00]) }
        #expect(throws: Varint.Error.truncated) { try Varint.read(from: [0x80]) }
        #expect(throws: Varint.Error.overflow) { try Varint.read(from: [UInt8](repeating: 0xff, count: 10) + [0x01]) }
    }
}
