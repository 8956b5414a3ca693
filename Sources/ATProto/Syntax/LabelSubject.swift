/// What a label is about: an account, named by its ``DID``, or a record, named by its ``ATURI``.
///
/// A label's `uri` field holds one or the other (atproto label spec: "AT URI of the record,
/// repository (account), or other resource"); the scheme tells them apart, since a DID starts
/// `did:` and an AT-URI `at://`. The label on the wire keeps the string it was signed with; this
/// is the value everything that asks for a label passes around, checked once where the text
/// comes in (a rule's event, a person's command or request).
///
/// ```swift
/// switch try LabelSubject("at://did:plc:asdf123/app.bsky.feed.post/3jzfcijpj2z2a") {
/// case .account(let did): print("account", did)
/// case .record(let uri): print("record", uri.rkey!)
/// }
/// ```
public enum LabelSubject: SyntaxType {
    /// An account: the bare DID, as labels on accounts are written.
    case account(DID)
    /// A record, or any other `at://` URI (the form is not narrowed further: a label on a whole
    /// repository written as `at://did` is a subject too).
    case record(ATURI)

    public init(_ string: String) throws(SyntaxError) {
        if let reason = Self.violation(in: string) {
            throw SyntaxError(kind: "label subject", input: string, reason: reason)
        }
        self =
            string.utf8.starts(with: "did:".utf8) ? .account(DID(unchecked: string)) : .record(ATURI(unchecked: string))
    }

    /// The subject as written: the label's `uri`, and the text the store keeps.
    public var rawValue: String {
        switch self {
        case .account(let did): did.rawValue
        case .record(let uri): uri.rawValue
        }
    }

    /// The DID, when the subject is an account.
    public var account: DID? {
        if case .account(let did) = self { did } else { nil }
    }

    /// The URI, when the subject is a record.
    public var record: ATURI? {
        if case .record(let uri) = self { uri } else { nil }
    }

    // Spelled out so that subjects order as their text (as the store's rows do), not by case.
    public static func < (lhs: LabelSubject, rhs: LabelSubject) -> Bool { lhs.rawValue < rhs.rawValue }

    public static func violation(in string: String) -> StaticString? {
        SyntaxScan.withBytes(of: string) { bytes in
            if SyntaxScan.hasPrefix(bytes, "did:") { return DID.violation(in: bytes) }
            if SyntaxScan.hasPrefix(bytes, "at://") { return ATURI.violation(in: bytes) }
            return "must be a DID (an account) or an at:// URI (a record)"
        }
    }
}
