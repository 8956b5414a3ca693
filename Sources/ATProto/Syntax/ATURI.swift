/// An `at://` URI naming an account, a collection in its repository, or one record:
/// `at://<authority>[/<collection>[/<rkey>]]`.
///
/// Syntax (atproto AT-URI spec, <https://atproto.com/specs/at-uri-scheme>, restricted form used
/// by the Lexicon `at-uri` format): at most 8192 characters; the authority is a ``DID`` or a
/// ``Handle``; the optional collection is an ``NSID``; the optional record key is a ``RecordKey``.
/// No trailing slash, no query, no fragment, no further path segments.
///
/// ```swift
/// let uri = try ATURI("at://did:plc:asdf123/app.bsky.feed.post/3jzfcijpj2z2a")
/// uri.authority          // "did:plc:asdf123"
/// uri.did                // DID("did:plc:asdf123")
/// uri.collection?.name   // "post"
/// uri.rkey?.rawValue     // "3jzfcijpj2z2a"
/// ```
public struct ATURI: SyntaxType {
    public static let maxLength = 8192
    private static let scheme: StaticString = "at://"
    private static let schemeLength = 5

    /// The validated input, unchanged.
    public let rawValue: String

    public init(_ string: String) throws(SyntaxError) {
        if let reason = Self.violation(in: string) {
            throw SyntaxError(kind: "AT-URI", input: string, reason: reason)
        }
        rawValue = string
    }

    init(unchecked string: String) {
        rawValue = string
    }

    /// The URI of an account or, with `collection`, of one of its collections. Always valid: the
    /// parts' own length limits keep every built URI well under ``maxLength``.
    public init(authority: ATIdentifier, collection: NSID? = nil) {
        var uri = "at://" + authority.rawValue
        if let collection { uri += "/" + collection.rawValue }
        rawValue = uri
    }

    /// The URI of one record.
    public init(authority: ATIdentifier, collection: NSID, rkey: RecordKey) {
        rawValue = "at://" + authority.rawValue + "/" + collection.rawValue + "/" + rkey.rawValue
    }

    /// The URI of the record at `path` in the repository of `did`.
    public init(did: DID, path: RepoPath) {
        rawValue = "at://" + did.rawValue + "/" + path.rawValue
    }

    /// The authority exactly as written: a DID or a handle.
    public var authority: String {
        let parts = components
        return String(decoding: rawValue.utf8[parts.authority], as: UTF8.self)
    }

    /// The authority as a typed identifier.
    public var identifier: ATIdentifier {
        let authority = authority
        return authority.utf8.contains(UInt8(ascii: ":"))
            ? .did(DID(unchecked: authority)) : .handle(Handle(unchecked: authority))
    }

    /// The authority when it is a DID (the usual case for stored references), else `nil`.
    public var did: DID? { identifier.did }

    /// The collection, if the URI has a path.
    public var collection: NSID? {
        components.collection.map { NSID(unchecked: String(decoding: rawValue.utf8[$0], as: UTF8.self)) }
    }

    /// The record key, if the URI names a record.
    public var rkey: RecordKey? {
        components.rkey.map { RecordKey(unchecked: String(decoding: rawValue.utf8[$0], as: UTF8.self)) }
    }

    /// `collection/rkey`, if the URI names a record.
    public var path: RepoPath? {
        guard let collection, let rkey else { return nil }
        return RepoPath(collection: collection, rkey: rkey)
    }

    /// UTF-8 ranges of the parts of the (already validated) URI.
    private var components:
        (
            authority: Range<String.Index>, collection: Range<String.Index>?, rkey: Range<String.Index>?
        )
    {
        let utf8 = rawValue.utf8
        let authorityStart = utf8.index(utf8.startIndex, offsetBy: Self.schemeLength)
        guard let firstSlash = utf8[authorityStart...].firstIndex(of: UInt8(ascii: "/")) else {
            return (authorityStart..<utf8.endIndex, nil, nil)
        }
        let collectionStart = utf8.index(after: firstSlash)
        guard let secondSlash = utf8[collectionStart...].firstIndex(of: UInt8(ascii: "/")) else {
            return (authorityStart..<firstSlash, collectionStart..<utf8.endIndex, nil)
        }
        let rkeyStart = utf8.index(after: secondSlash)
        return (authorityStart..<firstSlash, collectionStart..<secondSlash, rkeyStart..<utf8.endIndex)
    }

    public static func violation(in string: String) -> StaticString? {
        SyntaxScan.withBytes(of: string, violation(in:))
    }

    static func violation(in bytes: SyntaxScan.Bytes) -> StaticString? {
        guard bytes.count <= maxLength else { return "longer than 8192 characters" }
        guard SyntaxScan.hasPrefix(bytes, scheme) else { return "must start with \"at://\"" }

        let authorityEnd = SyntaxScan.offset(of: UInt8(ascii: "/"), in: bytes, from: schemeLength)
        guard authorityEnd > schemeLength else { return "missing authority" }
        if ATIdentifier.violation(in: SyntaxScan.slice(bytes, schemeLength..<authorityEnd)) != nil {
            return "authority is neither a valid DID nor a valid handle"
        }
        guard authorityEnd < bytes.count else { return nil }

        let collectionStart = authorityEnd + 1
        let collectionEnd = SyntaxScan.offset(of: UInt8(ascii: "/"), in: bytes, from: collectionStart)
        guard collectionEnd > collectionStart else { return "empty path segment (trailing or doubled slash)" }
        if NSID.violation(in: SyntaxScan.slice(bytes, collectionStart..<collectionEnd)) != nil {
            return "collection is not a valid NSID"
        }
        guard collectionEnd < bytes.count else { return nil }

        let rkey = SyntaxScan.slice(bytes, (collectionEnd + 1)..<bytes.count)
        guard !rkey.isEmpty else { return "empty path segment (trailing or doubled slash)" }
        if rkey.contains(UInt8(ascii: "/")) { return "too many path segments" }
        if RecordKey.violation(in: rkey) != nil { return "record key is not valid" }
        return nil
    }
}
