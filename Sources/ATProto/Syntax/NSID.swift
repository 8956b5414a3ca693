/// A namespaced identifier naming a Lexicon schema, record collection or XRPC method,
/// such as `app.bsky.feed.post`.
///
/// Syntax (atproto NSID spec, <https://atproto.com/specs/nsid>): at least three dot-separated
/// segments, at most 317 characters. All segments but the last form the *domain authority*, a
/// reversed domain name whose segments follow DNS label rules (1–63 letters, digits or hyphens,
/// no hyphen at either end) and whose first segment starts with a letter. The last segment is the
/// *name*: 1–63 letters and digits starting with a letter. The authority is case-insensitive; the
/// name is case-sensitive.
///
/// The spec text also caps the authority at 253 characters, but the interop fixtures list a
/// 283-character authority as valid and the reference implementations only enforce the overall
/// 317, so that is the limit applied here.
///
/// ```swift
/// let nsid = try NSID("app.bsky.feed.post")
/// nsid.authority  // "feed.bsky.app"
/// nsid.name       // "post"
/// ```
public struct NSID: SyntaxType {
    public static let maxLength = 317

    /// The validated input, unchanged.
    public let rawValue: String

    public init(_ string: String) throws(SyntaxError) {
        if let reason = Self.violation(in: string) {
            throw SyntaxError(kind: "NSID", input: string, reason: reason)
        }
        rawValue = string
    }

    init(unchecked string: String) {
        rawValue = string
    }

    /// The final segment, e.g. `post` in `app.bsky.feed.post`.
    public var name: String {
        String(rawValue[rawValue.utf8.index(after: lastDot)...])
    }

    /// The domain authority in ordinary DNS order and lowercase, e.g. `feed.bsky.app` for
    /// `app.bsky.feed.post`: the domain whose DNS records say who controls the schema.
    public var authority: String {
        let reversed = rawValue[..<lastDot].split(separator: ".").reversed().joined(separator: ".")
        return SyntaxScan.asciiLowercased(reversed)
    }

    /// The authority segments as written (reversed-domain order), e.g. `app.bsky.feed`.
    public var authorityPrefix: String {
        String(rawValue[..<lastDot])
    }

    /// The NSID with its case-insensitive authority lowercased and its name kept as is, so that
    /// two spellings of the same NSID compare equal.
    public var normalized: NSID {
        NSID(unchecked: SyntaxScan.asciiLowercased(authorityPrefix) + "." + name)
    }

    private var lastDot: String.Index {
        rawValue.utf8.lastIndex(of: UInt8(ascii: "."))!
    }

    public static func violation(in string: String) -> StaticString? {
        SyntaxScan.withBytes(of: string, violation(in:))
    }

    static func violation(in bytes: SyntaxScan.Bytes) -> StaticString? {
        guard !bytes.isEmpty else { return "empty" }
        guard bytes.count <= maxLength else { return "longer than 317 characters" }
        guard SyntaxScan.isLetter(bytes[0]) else { return "first segment must start with a letter" }

        var segmentStart = 0
        var segmentCount = 0
        while true {
            let segmentEnd = SyntaxScan.offset(of: UInt8(ascii: "."), in: bytes, from: segmentStart)
            let segment = SyntaxScan.slice(bytes, segmentStart..<segmentEnd)
            if segmentEnd == bytes.count {
                guard segmentCount >= 2 else { return "needs at least three dot-separated segments" }
                return nameViolation(segment)
            }
            if let reason = SyntaxScan.domainLabelViolation(segment) { return reason }
            segmentCount += 1
            segmentStart = segmentEnd + 1
        }
    }

    /// The name segment is stricter than a DNS label: no hyphens and no leading digit, because it
    /// becomes an identifier in generated code.
    private static func nameViolation(_ name: SyntaxScan.Bytes) -> StaticString? {
        guard let first = name.first else { return "empty segment (leading, trailing or doubled dot)" }
        guard name.count <= 63 else { return "segment longer than 63 characters" }
        guard SyntaxScan.isLetter(first) else { return "name segment must start with a letter" }
        for byte in name where !SyntaxScan.isAlphanumeric(byte) {
            return "name segment must be ASCII letters and digits only"
        }
        return nil
    }
}

extension NSID {
    /// Whether `pattern` is an NSID glob: a full NSID, a bare `*`, or a prefix of whole segments
    /// followed by a single trailing `.*` (e.g. `app.bsky.feed.*`). Used for collection filters,
    /// where a `*` anywhere else would be ambiguous.
    public static func isValidGlob(_ pattern: String) -> Bool {
        SyntaxScan.withBytes(of: pattern) { bytes in
            if bytes.count == 1, bytes[0] == UInt8(ascii: "*") { return true }
            guard bytes.count >= 2, bytes[bytes.count - 1] == UInt8(ascii: "*"),
                bytes[bytes.count - 2] == UInt8(ascii: ".")
            else {
                return violation(in: bytes) == nil
            }
            return globPrefixIsValid(SyntaxScan.slice(bytes, 0..<(bytes.count - 2)))
        }
    }

    /// Whether this NSID is matched by `glob` (see ``isValidGlob(_:)``). `app.bsky.*` matches
    /// `app.bsky.feed.post` but not `app.bskyx.post`; matching is exact, not case-folded.
    public func matches(glob: String) -> Bool {
        if glob == "*" { return true }
        guard glob.hasSuffix(".*") else { return rawValue == glob }
        let prefix = glob.dropLast()  // keep the dot so that only whole segments match
        return rawValue.utf8.count > prefix.utf8.count && rawValue.hasPrefix(prefix)
    }

    /// The part of a glob before `.*`: one or more DNS-label segments, the first starting with a
    /// letter, within the NSID length limit.
    private static func globPrefixIsValid(_ prefix: SyntaxScan.Bytes) -> Bool {
        guard !prefix.isEmpty, prefix.count + 2 <= maxLength, SyntaxScan.isLetter(prefix[0]) else { return false }
        var segmentStart = 0
        while segmentStart <= prefix.count {
            let segmentEnd = SyntaxScan.offset(of: UInt8(ascii: "."), in: prefix, from: segmentStart)
            if SyntaxScan.domainLabelViolation(SyntaxScan.slice(prefix, segmentStart..<segmentEnd)) != nil {
                return false
            }
            if segmentEnd == prefix.count { return true }
            segmentStart = segmentEnd + 1
        }
        return false
    }
}
