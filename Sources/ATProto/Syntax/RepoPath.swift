/// The path of a record inside a repository: `<collection>/<rkey>`, as carried by firehose
/// `ops[].path`, e.g. `app.bsky.feed.post/3jzfcijpj2z2a`.
///
/// Exactly two segments: an ``NSID`` and a ``RecordKey``. An op whose path fails this check is
/// dropped rather than processed with a guessed collection.
///
/// ```swift
/// let path = try RepoPath("app.bsky.feed.post/3jzfcijpj2z2a")
/// path.collection.rawValue  // "app.bsky.feed.post"
/// path.rkey.rawValue        // "3jzfcijpj2z2a"
/// ```
public struct RepoPath: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The validated input, unchanged.
    public let rawValue: String
    /// UTF-8 offset of the `/`, kept so that splitting does not scan again.
    private let slashOffset: Int

    public init(_ string: String) throws(SyntaxError) {
        var slash = 0
        let reason = SyntaxScan.withBytes(of: string) { bytes in
            slash = SyntaxScan.offset(of: UInt8(ascii: "/"), in: bytes)
            return Self.violation(in: bytes)
        }
        if let reason { throw SyntaxError(kind: "repo path", input: string, reason: reason) }
        rawValue = string
        slashOffset = slash
    }

    public init(collection: NSID, rkey: RecordKey) {
        rawValue = collection.rawValue + "/" + rkey.rawValue
        slashOffset = collection.rawValue.utf8.count
    }

    public static func isValid(_ string: String) -> Bool {
        SyntaxScan.withBytes(of: string) { violation(in: $0) == nil }
    }

    public var description: String { rawValue }

    public static func < (lhs: RepoPath, rhs: RepoPath) -> Bool { lhs.rawValue < rhs.rawValue }

    public var collection: NSID {
        NSID(unchecked: String(decoding: rawValue.utf8.prefix(slashOffset), as: UTF8.self))
    }

    public var rkey: RecordKey {
        RecordKey(unchecked: String(decoding: rawValue.utf8.dropFirst(slashOffset + 1), as: UTF8.self))
    }

    static func violation(in bytes: SyntaxScan.Bytes) -> StaticString? {
        let slash = SyntaxScan.offset(of: UInt8(ascii: "/"), in: bytes)
        guard slash < bytes.count else { return "must be <collection>/<rkey>" }
        if NSID.violation(in: SyntaxScan.slice(bytes, 0..<slash)) != nil {
            return "collection is not a valid NSID"
        }
        let rkey = SyntaxScan.slice(bytes, (slash + 1)..<bytes.count)
        if rkey.contains(UInt8(ascii: "/")) { return "must have exactly two segments" }
        if RecordKey.violation(in: rkey) != nil { return "record key is not valid" }
        return nil
    }
}
