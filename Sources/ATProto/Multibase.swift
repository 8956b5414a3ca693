/// Multibase text encodings used by atproto: `b` (RFC 4648 base32, lowercase, no padding) for CID
/// strings and `z` (base58btc) for did:key / Multikey.
public enum Multibase {
    public enum Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        case empty
        case unsupportedPrefix(Character)
        case invalidCharacter(Character)
        case nonCanonicalPadding

        public var description: String {
            switch self {
            case .empty: "empty multibase string"
            case .unsupportedPrefix(let c): "unsupported multibase prefix '\(c)'"
            case .invalidCharacter(let c): "invalid character '\(c)' for this multibase encoding"
            case .nonCanonicalPadding: "base32 string has non-zero trailing bits"
            }
        }
    }

    /// Decodes a multibase string with the `b` (base32) or `z` (base58btc) prefix.
    public static func decode(_ string: String) throws(Error) -> [UInt8] {
        guard let prefix = string.utf8.first else { throw .empty }
        let body = string.utf8.dropFirst()
        switch prefix {
        case UInt8(ascii: "b"): return try Base32.decode(body)
        case UInt8(ascii: "z"): return try Base58.decode(body)
        default: throw .unsupportedPrefix(Character(Unicode.Scalar(prefix)))
        }
    }
}

/// RFC 4648 base32 with the lowercase alphabet and no padding, as used for CIDv1 strings.
public enum Base32 {
    static let alphabet: [UInt8] = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)
    /// Upper case is accepted on input too (multibase `B` is upper case; we only ever emit lower).
    static let reverse = digitTable(alphabet, acceptingUpperCase: true)

    public static func encode<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count * 8 + 4) / 5)
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = (buffer << 8) | UInt32(byte)
            bits += 8
            while bits >= 5 {
                bits -= 5
                out.append(alphabet[Int((buffer >> UInt32(bits)) & 31)])
            }
        }
        if bits > 0 { out.append(alphabet[Int((buffer << UInt32(5 - bits)) & 31)]) }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode<Text: Collection>(_ text: Text) throws(Multibase.Error) -> [UInt8]
    where Text.Element == UInt8 {
        var out = [UInt8]()
        out.reserveCapacity(text.count * 5 / 8)
        var buffer: UInt32 = 0
        var bits = 0
        for c in text {
            let v = reverse[Int(c)]
            guard v >= 0 else { throw .invalidCharacter(Character(Unicode.Scalar(c))) }
            buffer = (buffer << 5) | UInt32(v)
            bits += 5
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        // Leftover bits must be zero padding of fewer than 5 bits, or the string is not canonical.
        if bits >= 5 || (buffer & ((1 << UInt32(bits)) - 1)) != 0 { throw .nonCanonicalPadding }
        return out
    }
}

/// Bitcoin base58 alphabet, as used by Multikey (`z` prefix).
public enum Base58 {
    static let alphabet: [UInt8] = Array("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz".utf8)
    static let reverse = digitTable(alphabet)

    public static func encode<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let input = Array(bytes)
        let zeros = input.prefix(while: { $0 == 0 }).count
        // log(256)/log(58) ≈ 1.37
        var digits = [UInt8](repeating: 0, count: (input.count - zeros) * 138 / 100 + 1)
        var length = 0
        for byte in input[zeros...] {
            var carry = Int(byte)
            var i = 0
            var k = digits.count - 1
            while (carry != 0 || i < length) && k >= 0 {
                carry += 256 * Int(digits[k])
                digits[k] = UInt8(carry % 58)
                carry /= 58
                i += 1
                k -= 1
            }
            length = i
        }
        var out = [UInt8](repeating: alphabet[0], count: zeros)
        for d in digits[(digits.count - length)...] { out.append(alphabet[Int(d)]) }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode<Text: Collection>(_ text: Text) throws(Multibase.Error) -> [UInt8]
    where Text.Element == UInt8 {
        let input = Array(text)
        let zeros = input.prefix(while: { $0 == alphabet[0] }).count
        var bytes = [UInt8](repeating: 0, count: (input.count - zeros) * 733 / 1000 + 1)
        var length = 0
        for c in input[zeros...] {
            let v = reverse[Int(c)]
            guard v >= 0 else { throw .invalidCharacter(Character(Unicode.Scalar(c))) }
            var carry = Int(v)
            var i = 0
            var k = bytes.count - 1
            while (carry != 0 || i < length) && k >= 0 {
                carry += 58 * Int(bytes[k])
                bytes[k] = UInt8(carry & 0xff)
                carry >>= 8
                i += 1
                k -= 1
            }
            length = i
        }
        return [UInt8](repeating: 0, count: zeros) + bytes[(bytes.count - length)...]
    }
}

/// A byte → digit-value table for an alphabet (-1 for bytes not in it).
func digitTable(_ alphabet: [UInt8], acceptingUpperCase: Bool = false) -> [Int8] {
    var table = [Int8](repeating: -1, count: 256)
    for (i, c) in alphabet.enumerated() {
        table[Int(c)] = Int8(i)
        if acceptingUpperCase && c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z") { table[Int(c - 32)] = Int8(i) }
    }
    return table
}
