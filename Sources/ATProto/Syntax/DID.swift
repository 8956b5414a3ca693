/// A decentralized identifier (`did:<method>:<identifier>`), the stable identity of an account.
///
/// Syntax (atproto DID spec, <https://atproto.com/specs/did>):
/// `did:` + a method of lowercase letters + `:` + an identifier of `[A-Za-z0-9._:%-]` that does not
/// end in `:` or `%`, at most 2048 characters in all. This is syntax only: any method is accepted
/// here, although atproto only resolves the "blessed" methods `plc` and `web`. DIDs are
/// case-sensitive and never normalised.
///
/// ```swift
/// let did = try DID("did:plc:7iza6de2dwap2sbkpav7c6c6")
/// did.method      // "plc"
/// did.identifier  // "7iza6de2dwap2sbkpav7c6c6"
/// ```
public struct DID: SyntaxType {
    /// Spec limit on the whole string; bounds what a peer can make us store per identity.
    public static let maxLength = 2048

    /// The validated input, unchanged.
    public let rawValue: String

    public init(_ string: String) throws(SyntaxError) {
        if let reason = Self.violation(in: string) {
            throw SyntaxError(kind: "DID", input: string, reason: reason)
        }
        rawValue = string
    }

    /// For strings already known to be valid (slices of a validated AT-URI, for instance).
    init(unchecked string: String) {
        rawValue = string
    }

    /// The DID method, e.g. `plc` or `web`.
    public var method: String {
        let utf8 = rawValue.utf8
        let start = utf8.index(utf8.startIndex, offsetBy: 4)
        let end = utf8[start...].firstIndex(of: UInt8(ascii: ":"))!
        return String(rawValue[start..<end])
    }

    /// The method-specific identifier: everything after `did:<method>:`.
    public var identifier: String {
        let utf8 = rawValue.utf8
        let start = utf8.index(utf8.startIndex, offsetBy: 4)
        let colon = utf8[start...].firstIndex(of: UInt8(ascii: ":"))!
        return String(rawValue[utf8.index(after: colon)...])
    }

    public static func violation(in string: String) -> StaticString? {
        SyntaxScan.withBytes(of: string, violation(in:))
    }

    static func violation(in bytes: SyntaxScan.Bytes) -> StaticString? {
        guard bytes.count <= maxLength else { return "longer than 2048 characters" }
        guard SyntaxScan.hasPrefix(bytes, "did:") else { return "must start with \"did:\"" }

        var index = 4
        while index < bytes.count, SyntaxScan.isLowercaseLetter(bytes[index]) { index += 1 }
        guard index > 4, index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
            return index == bytes.count && index > 4
                ? "missing method-specific identifier"
                : "method must be lowercase letters"
        }
        index += 1
        guard index < bytes.count else { return "missing method-specific identifier" }

        for byte in SyntaxScan.slice(bytes, index..<bytes.count) where !isIdentifierByte(byte) {
            return "identifier may only contain ASCII letters, digits and ._:%-"
        }
        // The identifier may not end in ':' (an empty trailing segment) or '%' (a truncated
        // percent-escape); the spec's regex ends with `[a-zA-Z0-9._-]`.
        let last = bytes[bytes.count - 1]
        guard last != UInt8(ascii: ":"), last != UInt8(ascii: "%") else {
            return "identifier must not end with ':' or '%'"
        }
        return nil
    }

    @inline(__always)
    private static func isIdentifierByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "%"), UInt8(ascii: "-"):
            return true
        default:
            return SyntaxScan.isAlphanumeric(byte)
        }
    }
}
