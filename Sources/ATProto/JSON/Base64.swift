/// Base64 (RFC 4648): the standard alphabet (§4), in which atproto writes `$bytes` and label
/// `sig` unpadded and accepts both, and the URL-safe one (§5) of JWTs.
public enum Base64 {
    public enum Alphabet: Sendable {
        /// `+` and `/`.
        case standard
        /// `-` and `_` (base64url), as JWTs are written.
        case url

        var digits: [UInt8] { self == .standard ? Base64.alphabet : Base64.urlAlphabet }
        var reverse: [Int8] { self == .standard ? Base64.reverse : Base64.urlReverse }
    }

    static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    static let reverse = digitTable(alphabet)
    static let urlAlphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    static let urlReverse = digitTable(urlAlphabet)

    public static func encode(
        _ bytes: some Collection<UInt8>, padded: Bool = false, alphabet set: Alphabet = .standard
    ) -> String {
        let alphabet = set.digits
        var out = [UInt8]()
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var iterator = bytes.makeIterator()
        while let b0 = iterator.next() {
            let b1 = iterator.next()
            let b2 = iterator.next()
            out.append(alphabet[Int(b0 >> 2)])
            out.append(alphabet[Int((b0 & 0x03) << 4 | (b1 ?? 0) >> 4)])
            if let b1 { out.append(alphabet[Int((b1 & 0x0f) << 2 | (b2 ?? 0) >> 6)]) } else if padded { out.append(61) }
            if let b2 { out.append(alphabet[Int(b2 & 0x3f)]) } else if padded { out.append(61) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes with or without `=` padding; nil for any other character, a bad length, or
    /// non-zero trailing bits.
    public static func decode(_ text: some StringProtocol, alphabet set: Alphabet = .standard) -> [UInt8]? {
        let reverse = set.reverse
        var chars = Array(text.utf8)
        if chars.count % 4 == 0 {
            while chars.last == 61 { chars.removeLast() }
        }
        guard chars.count % 4 != 1 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(chars.count * 3 / 4)
        var buffer: UInt32 = 0
        var bits = 0
        for c in chars {
            let v = reverse[Int(c)]
            guard v >= 0 else { return nil }
            buffer = buffer << 6 | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        guard buffer & ((1 << UInt32(bits)) - 1) == 0 else { return nil }
        return out
    }
}
