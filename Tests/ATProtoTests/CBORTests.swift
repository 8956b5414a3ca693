import Testing

@testable import ATProto

func hex(_ s: String) -> [UInt8] {
    var out = [UInt8]()
    var chars = s.filter { !$0.isWhitespace }.makeIterator()
    while let a = chars.next(), let b = chars.next() { out.append(UInt8(String([a, b]), radix: 16)!) }
    return out
}

func hexString(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

@Suite struct CBORTests {
    let decoder = CBORDecoder()

    /// PROTOCOL §4.1's table of shortest forms.
    @Test(arguments: [
        (Int64(0), "00"), (23, "17"), (24, "1818"), (255, "18ff"), (256, "190100"), (65535, "19ffff"),
        (65536, "1a00010000"), (4_294_967_295, "1affffffff"), (4_294_967_296, "1b0000000100000000"),
        (-1, "20"), (-24, "37"), (-25, "3818"), (-257, "390100"), (Int64.max, "1b7fffffffffffffff"),
        (Int64.min, "3b7fffffffffffffff"),
    ])
    func integerShortestForm(value: Int64, encoding: String) throws {
        #expect(hexString(CBOREncoder.encode(.int(value))) == encoding)
        #expect(try decoder.decode(hex(encoding)) == .int(value))
    }

    @Test func bytesTextAndLengths() throws {
        #expect(hexString(CBOREncoder.encode(.bytes([1, 2]))) == "420102")
        let text24 = String(repeating: "a", count: 24)
        #expect(hexString(CBOREncoder.encode(.text(CBORText(text24)))).hasPrefix("7818"))
        #expect(try decoder.decode(CBOREncoder.encode(.text(CBORText(text24)))) == .text(CBORText(text24)))
    }

    @Test func mapKeysSortLengthFirst() {
        let map: CBORMap = ["sig": 1, "did": 2, "version": 3, "data": 4, "rev": 5, "prev": .null]
        #expect(map.keys == ["did", "rev", "sig", "data", "prev", "version"])
    }

    @Test func decodedBytesAreSlicesOfTheInput() throws {
        let input = hex("a1 61 62 43 01 02 03")  // {"b": h'010203'}
        let value = try decoder.decode(input)
        let bytes = try #require(value["b"]?.bytesValue)
        #expect(Array(bytes) == [1, 2, 3])
        #expect(bytes.startIndex == 4)  // an index into the input: no copy was made
    }

    @Test func cidLinkRoundTrip() throws {
        let cid = try CID(string: "bafyreiacmzmmzfukfenvoukzfza4k5cyeqbjjqunee4cpo3rn4vovmcg5m")
        let encoded = CBOREncoder.encode(.link(cid))
        #expect(hexString(encoded.prefix(9)) == "d82a582500017112200".dropLast())
        #expect(try decoder.decode(encoded) == .link(cid))
    }

    /// Every kind of non-canonical or non-atproto CBOR is refused with the right error.
    @Test(arguments: [
        ("1817", CBORError.Kind.nonMinimalEncoding),  // 23 in two bytes
        ("190017", .nonMinimalEncoding),
        ("1a000000ff", .nonMinimalEncoding),
        ("1b00000000ffffffff", .nonMinimalEncoding),
        ("5801ff", .nonMinimalEncoding),  // 1-byte string with a 1-byte length
        ("1b8000000000000000", .integerOutOfRange),
        ("3b8000000000000000", .integerOutOfRange),
        ("f93c00", .floatNotAllowed),
        ("fa3f800000", .floatNotAllowed),
        ("fb3ff0000000000000", .floatNotAllowed),
        ("f7", .simpleValueNotAllowed),  // undefined
        ("f0", .simpleValueNotAllowed),
        ("f820", .simpleValueNotAllowed),
        ("5f4101ff", .indefiniteLength),
        ("9fff", .indefiniteLength),
        ("bfff", .indefiniteLength),
        ("1c", .reservedAdditionalInfo),
        ("c0617a", .tagNotAllowed(0)),
        ("d82b4100", .tagNotAllowed(43)),
        ("62c328", .invalidUTF8),
        ("63eda080", .invalidUTF8),  // surrogate
        ("62c0af", .invalidUTF8),  // overlong
        ("a1016161", .mapKeyNotText),
        ("a2616201616101", .mapKeysNotCanonical),  // b before a
        ("a2626161016162", .mapKeysNotCanonical),  // "aa" before "b": longer first
        ("a2616101616102", .duplicateMapKey),
        ("0000", .trailingBytes),
        ("", .truncated),
        ("19", .truncated),
        ("62 61", .lengthExceedsInput),
        ("5a ffffffff 00", .lengthExceedsInput),
        ("9b 00000001 00000000 00", .lengthExceedsInput),
        ("bb 7fffffff ffffffff 00", .lengthExceedsInput),
    ])
    func rejects(_ input: String, _ kind: CBORError.Kind) {
        #expect {
            _ = try decoder.decode(hex(input))
        } throws: { error in
            (error as? CBORError)?.kind == kind
        }
    }

    @Test(arguments: [
        "d82a 4100",  // no CID after the prefix
        "d82a 58250101711220" + String(repeating: "00", count: 32),  // 0x01 instead of the 0x00 prefix
        "d82a 6161",  // text, not bytes
        "d82a 582500017112ff" + String(repeating: "00", count: 32),  // digest length beyond the bytes
    ])
    func rejectsBadLinks(_ input: String) {
        #expect {
            _ = try decoder.decode(hex(input))
        } throws: { error in
            if case .invalidLink = (error as? CBORError)?.kind { return true }
            return false
        }
    }

    @Test func deepNestingIsRejectedFast() {
        for open in [UInt8(0x81), UInt8(0xa1)] {
            var input = [UInt8]()
            for _ in 0..<100_000 {
                input.append(open)
                if open == 0xa1 { input.append(contentsOf: [0x61, 0x61]) }
            }
            input.append(0x00)
            let clock = ContinuousClock()
            let start = clock.now
            #expect {
                _ = try decoder.decode(input)
            } throws: { error in
                (error as? CBORError)?.kind == .nestingTooDeep(limit: 64)
            }
            #expect(clock.now - start < .seconds(1))
        }
    }

    @Test func nestingUpToTheLimitIsAccepted() throws {
        let input = [UInt8](repeating: 0x81, count: 64) + [0x00]
        _ = try decoder.decode(input)
        #expect(throws: CBORError.self) { try decoder.decode([UInt8](repeating: 0x81, count: 65) + [0x00]) }
    }

    @Test func itemLimit() {
        let limited = CBORDecoder(limits: .init(maxDepth: 64, maxItems: 10))
        let input: [UInt8] = [0x8a] + [UInt8](repeating: 0, count: 10)  // 11 items
        #expect {
            _ = try limited.decode(input)
        } throws: { error in
            (error as? CBORError)?.kind == .tooManyItems(limit: 10)
        }
    }

    @Test func errorsCarryOffsets() {
        #expect {
            _ = try decoder.decode(hex("82 00 f93c00"))
        } throws: { error in
            (error as? CBORError) == CBORError(.floatNotAllowed, at: 2)
        }
    }

    @Test func mapHelpers() {
        let map: CBORMap = ["a": 1, "c": 3]
        #expect(map.setting("b", to: 2).keys == ["a", "b", "c"])
        #expect(map.setting("a", to: 9)["a"] == .int(9))
        #expect(map.removing("a").keys == ["c"])
        #expect(map["zz"] == nil)
    }
}
