/// A handle: the human-readable, DNS-based name of an account, such as `alice.bsky.social`.
///
/// Syntax (atproto handle spec, <https://atproto.com/specs/handle>): a DNS hostname of at least two
/// dot-separated segments, each 1–63 ASCII letters, digits or hyphens that neither starts nor ends
/// with a hyphen; at most 253 characters; the last segment (the TLD) starts with a letter, which is
/// what keeps IPv4 addresses out. Handles are case-insensitive: compare ``normalized`` values,
/// since ``rawValue`` keeps the case it was received in.
///
/// ```swift
/// let handle = try Handle("Alice.BSKY.social")
/// handle.normalized.rawValue  // "alice.bsky.social"
/// ```
public struct Handle: SyntaxType {
    /// The DNS limit on a full hostname (RFC 1035 §2.3.4 as commonly applied to the text form).
    public static let maxLength = 253

    /// The special value a server reports when a handle no longer resolves to its account.
    public static let invalid = Handle(unchecked: "handle.invalid")

    /// TLDs that are valid syntax but must never resolve as atproto handles (special-use or
    /// non-public names); `handle.invalid` is the one that appears on purpose.
    static let reservedTLDs: [String] = [
        "alt", "arpa", "example", "internal", "invalid", "local", "localhost", "onion",
    ]

    /// The validated input, unchanged (not lowercased).
    public let rawValue: String

    public init(_ string: String) throws(SyntaxError) {
        if let reason = Self.violation(in: string) {
            throw SyntaxError(kind: "handle", input: string, reason: reason)
        }
        rawValue = string
    }

    init(unchecked string: String) {
        rawValue = string
    }

    /// The handle in lowercase, the form to store, compare and display.
    public var normalized: Handle {
        Handle(unchecked: SyntaxScan.asciiLowercased(rawValue))
    }

    /// The last segment, e.g. `social` for `alice.bsky.social`.
    public var topLevelDomain: String {
        let utf8 = rawValue.utf8
        let dot = utf8.lastIndex(of: UInt8(ascii: "."))!
        return String(rawValue[utf8.index(after: dot)...])
    }

    /// Whether the TLD is one that atproto never resolves (`.alt .arpa .example .internal .invalid
    /// .local .localhost .onion`). Such handles are valid syntax but cannot identify an account.
    public var hasReservedTLD: Bool {
        Self.reservedTLDs.contains(SyntaxScan.asciiLowercased(topLevelDomain))
    }

    public static func violation(in string: String) -> StaticString? {
        SyntaxScan.withBytes(of: string, violation(in:))
    }

    static func violation(in bytes: SyntaxScan.Bytes) -> StaticString? {
        guard !bytes.isEmpty else { return "empty" }
        guard bytes.count <= maxLength else { return "longer than 253 characters" }

        var segmentStart = 0
        var segmentCount = 0
        while segmentStart <= bytes.count {
            let segmentEnd = SyntaxScan.offset(of: UInt8(ascii: "."), in: bytes, from: segmentStart)
            let segment = SyntaxScan.slice(bytes, segmentStart..<segmentEnd)
            if let reason = SyntaxScan.domainLabelViolation(segment) { return reason }
            segmentCount += 1
            if segmentEnd == bytes.count {
                // Last segment: the TLD. A leading digit would let "127.0.0.1" through.
                guard segmentCount >= 2 else { return "needs at least two dot-separated segments" }
                guard SyntaxScan.isLetter(segment[0]) else { return "top-level domain must start with a letter" }
                return nil
            }
            segmentStart = segmentEnd + 1
        }
        return "empty segment (leading, trailing or doubled dot)"
    }
}
