/// A content identifier in string form, checked for syntax only.
///
/// Labels and records carry CIDs as text; this type is for passing such a string through (or
/// rejecting it) without decoding it. Syntax (Lexicon `cid` format): 8–256 characters of
/// `A-Za-z0-9+=`, which covers every multibase encoding of a CIDv1. Legacy CIDv0 strings (base58
/// multihashes that always start `Qm`) are rejected, because atproto only uses CIDv1. To inspect
/// the codec or hash, decode the string into a binary CID instead.
public struct CIDString: Hashable, Sendable, CustomStringConvertible {
    public static let minLength = 8
    public static let maxLength = 256

    /// The validated input, unchanged.
    public let rawValue: String

    public init(_ string: String) throws(SyntaxError) {
        if let reason = Self.violation(in: string) {
            throw SyntaxError(kind: "CID", input: string, reason: reason)
        }
        rawValue = string
    }

    public static func isValid(_ string: String) -> Bool {
        violation(in: string) == nil
    }

    public var description: String { rawValue }

    static func violation(in string: String) -> StaticString? {
        SyntaxScan.withBytes(of: string, violation(in:))
    }

    static func violation(in bytes: SyntaxScan.Bytes) -> StaticString? {
        guard bytes.count >= minLength else { return "shorter than 8 characters" }
        guard bytes.count <= maxLength else { return "longer than 256 characters" }
        for byte in bytes where !isCIDByte(byte) {
            return "only ASCII letters, digits, '+' and '=' are allowed"
        }
        guard !SyntaxScan.hasPrefix(bytes, "Qm") else { return "CIDv0 is not allowed; use CIDv1" }
        return nil
    }

    @inline(__always)
    private static func isCIDByte(_ byte: UInt8) -> Bool {
        SyntaxScan.isAlphanumeric(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "=")
    }
}
