/// The key of a record within a collection of a repository, such as `self` or a TID.
///
/// Syntax (atproto record-key spec, <https://atproto.com/specs/record-key>): 1–512 characters from
/// `A-Za-z0-9 . - _ : ~`, and not `.` or `..` (which would be path traversal once the key is used
/// in a URL path). Record keys are case-sensitive.
public struct RecordKey: SyntaxType {
    public static let maxLength = 512

    /// The validated input, unchanged.
    public let rawValue: String

    public init(_ string: String) throws(SyntaxError) {
        if let reason = Self.violation(in: string) {
            throw SyntaxError(kind: "record key", input: string, reason: reason)
        }
        rawValue = string
    }

    init(unchecked string: String) {
        rawValue = string
    }

    public static func violation(in string: String) -> StaticString? {
        SyntaxScan.withBytes(of: string, violation(in:))
    }

    static func violation(in bytes: SyntaxScan.Bytes) -> StaticString? {
        guard !bytes.isEmpty else { return "empty" }
        guard bytes.count <= maxLength else { return "longer than 512 characters" }
        for byte in bytes where !isKeyByte(byte) {
            return "only ASCII letters, digits and .-_:~ are allowed"
        }
        let dot = UInt8(ascii: ".")
        if bytes.count <= 2, bytes.allSatisfy({ $0 == dot }) { return "\".\" and \"..\" are not allowed" }
        return nil
    }

    @inline(__always)
    private static func isKeyByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "~"):
            return true
        default:
            return SyntaxScan.isAlphanumeric(byte)
        }
    }
}
