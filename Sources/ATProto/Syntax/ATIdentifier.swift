/// An account identifier that is either a ``DID`` or a ``Handle`` (the Lexicon `at-identifier`
/// format), as found in the authority of an AT-URI or in XRPC `repo`/`actor` parameters.
///
/// The two are told apart by the colon: every DID contains one and no handle can.
///
/// ```swift
/// switch try ATIdentifier("alice.bsky.social") {
/// case .did(let did): print("DID", did)
/// case .handle(let handle): print("handle", handle)
/// }
/// ```
public enum ATIdentifier: Hashable, Sendable, Comparable, CustomStringConvertible {
    case did(DID)
    case handle(Handle)

    public init(_ string: String) throws(SyntaxError) {
        if string.utf8.contains(UInt8(ascii: ":")) {
            guard let reason = DID.violation(in: string) else {
                self = .did(DID(unchecked: string))
                return
            }
            throw SyntaxError(kind: "at-identifier", input: string, reason: reason)
        }
        guard let reason = Handle.violation(in: string) else {
            self = .handle(Handle(unchecked: string))
            return
        }
        throw SyntaxError(kind: "at-identifier", input: string, reason: reason)
    }

    public static func isValid(_ string: String) -> Bool {
        SyntaxScan.withBytes(of: string) { violation(in: $0) == nil }
    }

    /// The identifier as written.
    public var rawValue: String {
        switch self {
        case .did(let did): did.rawValue
        case .handle(let handle): handle.rawValue
        }
    }

    public var description: String { rawValue }

    public static func < (lhs: ATIdentifier, rhs: ATIdentifier) -> Bool { lhs.rawValue < rhs.rawValue }

    public var did: DID? {
        if case .did(let did) = self { did } else { nil }
    }

    public var handle: Handle? {
        if case .handle(let handle) = self { handle } else { nil }
    }

    static func violation(in bytes: SyntaxScan.Bytes) -> StaticString? {
        bytes.contains(UInt8(ascii: ":")) ? DID.violation(in: bytes) : Handle.violation(in: bytes)
    }
}
