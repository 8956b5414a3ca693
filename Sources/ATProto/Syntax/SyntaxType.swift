/// What every identifier type of the protocol (DID, handle, NSID, record key, AT-URI, TID) shares:
/// it holds text that passed its syntax check, unchanged; it prints as that text and orders as it
/// (byte order, which is also chronological for TIDs). A type supplies only the check.
public protocol SyntaxType: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The validated input, unchanged.
    var rawValue: String { get }
    /// Why `string` is not valid syntax for this type, or nil when it is.
    static func violation(in string: String) -> StaticString?
}

extension SyntaxType {
    public var description: String { rawValue }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Whether `string` is valid syntax for this type (the initialiser's check, without the error).
    public static func isValid(_ string: String) -> Bool { violation(in: string) == nil }
}
