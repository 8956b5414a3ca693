import Foundation
import Testing

/// Locates and decodes the shared test fixtures (`Tests/Fixtures/…`), relative to this source file
/// so the tests run from any working directory.
enum CryptoFixtures {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // ATCryptoTests
        .deletingLastPathComponent()  // Tests
        .appendingPathComponent("Fixtures")

    /// A file under `Tests/Fixtures/atproto-interop-tests/`.
    static func url(_ relative: String) -> URL {
        root.appendingPathComponent("atproto-interop-tests").appendingPathComponent(relative)
    }

    /// A file under `Tests/Fixtures/derived/`.
    static func derivedURL(_ relative: String) -> URL {
        root.appendingPathComponent("derived").appendingPathComponent(relative)
    }

    static func decode<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
        try JSONDecoder().decode(type, from: Data(contentsOf: url))
    }
}

/// Byte helpers written independently of the module under test.
enum TestBytes {
    /// Standard base64, padded or not (atproto fixtures omit the padding).
    static func base64(_ text: String) throws -> [UInt8] {
        var padded = text
        while padded.count % 4 != 0 { padded += "=" }
        return Array(try #require(Data(base64Encoded: padded), "not base64: \(text)"))
    }

    static func hex(_ text: String) throws -> [UInt8] {
        let chars = Array(text.utf8)
        try #require(chars.count % 2 == 0, "odd-length hex")
        var out = [UInt8]()
        for i in stride(from: 0, to: chars.count, by: 2) {
            out.append(try #require(UInt8(String(decoding: chars[i..<i + 2], as: UTF8.self), radix: 16)))
        }
        return out
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    static func random(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255) }
    }
}

/// Curve orders and half-orders as the tests see them (hex from SEC 2 / FIPS 186-4).
enum TestCurve {
    static let secp256k1Order = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"
    static let secp256k1HalfOrder = "7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0"
    static let p256Order = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"
    static let p256HalfOrder = "7fffffff800000007fffffffffffffffde737d56d38bcf4279dce5617e3192a8"

    /// Whether `s` (big-endian, 32 bytes) is at most the half order given as hex.
    static func isLowS(_ signature: [UInt8], halfOrderHex: String) throws -> Bool {
        let half = try TestBytes.hex(halfOrderHex)
        let s = Array(signature[32..<64])
        return s.lexicographicallyPrecedes(half) || s == half
    }

    /// `(r, n − s)`: the other valid ECDSA signature for the same message and key.
    static func highSTwin(_ signature: [UInt8], orderHex: String) throws -> [UInt8] {
        let n = try TestBytes.hex(orderHex)
        let s = Array(signature[32..<64])
        var diff = [UInt8](repeating: 0, count: 32)
        var borrow: UInt16 = 0
        for i in (0..<32).reversed() {
            let subtrahend = UInt16(s[i]) + borrow
            if UInt16(n[i]) >= subtrahend {
                diff[i] = UInt8(UInt16(n[i]) - subtrahend)
                borrow = 0
            } else {
                diff[i] = UInt8(UInt16(n[i]) + 256 - subtrahend)
                borrow = 1
            }
        }
        return Array(signature[0..<32]) + diff
    }

    /// ASN.1 DER `SEQUENCE { INTEGER r, INTEGER s }` of a compact signature.
    static func der(_ signature: [UInt8]) -> [UInt8] {
        func integer(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
            var body = Array(bytes.drop(while: { $0 == 0 }))
            if body.isEmpty || body[0] & 0x80 != 0 { body.insert(0, at: 0) }
            return [0x02, UInt8(body.count)] + body
        }
        let content = integer(signature[0..<32]) + integer(signature[32..<64])
        return [0x30, UInt8(content.count)] + content
    }
}
