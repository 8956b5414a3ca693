/// A generic URI (the Lexicon `uri` format), checked loosely: a scheme, a colon, and at least one
/// further character, with no whitespace or non-ASCII anywhere, at most 8192 characters.
///
/// The check is deliberately shallow (RFC 3986 §3.1 scheme grammar, then any visible ASCII): it is
/// for rejecting obvious garbage in fields such as a label's `uri` while passing the exact string
/// through. It does not check that an `at://` or `did:` value is itself valid; use ``ATURI`` or
/// ``DID`` for that.
///
/// ```swift
/// try URIString("https://example.com/path?q=1").scheme  // "https"
/// ```
public struct URIString: Hashable, Sendable, CustomStringConvertible {
    public static let maxLength = 8192

    /// The validated input, unchanged.
    public let rawValue: String

    public init(_ string: String) throws(SyntaxError) {
        if let reason = Self.violation(in: string) {
            throw SyntaxError(kind: "URI", input: string, reason: reason)
        }
        rawValue = string
    }

    public static func isValid(_ string: String) -> Bool {
        violation(in: string) == nil
    }

    public var description: String { rawValue }

    /// The scheme as written, e.g. `https` or `at` (schemes are case-insensitive).
    public var scheme: String {
        String(rawValue[..<rawValue.utf8.firstIndex(of: UInt8(ascii: ":"))!])
    }

    static func violation(in string: String) -> StaticString? {
        SyntaxScan.withBytes(of: string, violation(in:))
    }

    static func violation(in bytes: SyntaxScan.Bytes) -> StaticString? {
        guard bytes.count <= maxLength else { return "longer than 8192 characters" }
        guard let first = bytes.first, SyntaxScan.isLetter(first) else { return "scheme must start with a letter" }
        let colon = SyntaxScan.offset(of: UInt8(ascii: ":"), in: bytes)
        guard colon < bytes.count else { return "missing scheme" }
        for byte in SyntaxScan.slice(bytes, 1..<colon) where !isSchemeByte(byte) {
            return "scheme may only contain ASCII letters, digits, '+', '-' and '.'"
        }
        guard colon + 1 < bytes.count else { return "nothing after the scheme" }
        // Visible ASCII only: RFC 3986 has no whitespace and needs non-ASCII percent-encoded.
        for byte in SyntaxScan.slice(bytes, (colon + 1)..<bytes.count) where !(0x21...0x7E).contains(byte) {
            return "only visible ASCII characters are allowed (no whitespace)"
        }
        return nil
    }

    @inline(__always)
    private static func isSchemeByte(_ byte: UInt8) -> Bool {
        SyntaxScan.isAlphanumeric(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-")
            || byte == UInt8(ascii: ".")
    }
}
