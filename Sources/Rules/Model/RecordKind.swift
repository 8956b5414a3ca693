import ATProto

/// What a rule runs on (`on:` in a rule file): one of the record kinds with named fields, identity
/// events (the handle), reports filed with the labeler, or any other collection by NSID or NSID
/// glob, which offers `any_text` only.
public enum RecordKind: Hashable, Sendable, CustomStringConvertible {
    case post
    case profile
    case list
    case starterPack
    /// Identity events: the account's current handle.
    case handle
    /// Reports filed with the labeler (`com.atproto.moderation.createReport`): the reason text,
    /// and conditions on the reason type and the reporter.
    case report
    /// Records of a collection given by NSID (`com.example.thing`) or glob (`com.example.*`).
    case collection(String)

    /// The named kinds, in the order rule files list them.
    public static let named: [RecordKind] = [.post, .profile, .list, .starterPack, .handle, .report]

    /// The kind for a word of an `on:` list: a kind name, or an NSID or NSID glob. A collection
    /// NSID that has a named kind (`app.bsky.feed.post`) reads as that kind, so its fields are
    /// available.
    public init?(yamlName name: String) {
        switch name {
        case "post": self = .post
        case "profile": self = .profile
        case "list": self = .list
        case "starterpack": self = .starterPack
        case "handle": self = .handle
        case "report": self = .report
        default:
            guard name == "*" || name.contains("."), NSID.isValidGlob(name) else { return nil }
            if let kind = RecordKind.named.first(where: { $0.collection == name }) {
                self = kind
            } else {
                self = .collection(name)
            }
        }
    }

    /// The name used in rule files.
    public var yamlName: String {
        switch self {
        case .post: "post"
        case .profile: "profile"
        case .list: "list"
        case .starterPack: "starterpack"
        case .handle: "handle"
        case .report: "report"
        case .collection(let nsid): nsid
        }
    }

    public var description: String { yamlName }

    /// The collection NSID of a named record kind; `nil` for identity events, reports and other
    /// collections.
    public var collection: String? {
        switch self {
        case .post: Collections.post
        case .profile: Collections.profile
        case .list: Collections.list
        case .starterPack: Collections.starterPack
        case .handle, .report, .collection: nil
        }
    }

    /// The fields a matcher may read on this kind.
    public var fields: FieldSet {
        switch self {
        case .post:
            [
                FieldSet(.text), FieldSet(.alt), FieldSet(.links), FieldSet(.domains), FieldSet(.tags),
                FieldSet(.langs), FieldSet(.anyText),
            ]
        case .profile: [FieldSet(.displayName), FieldSet(.description), FieldSet(.anyText)]
        case .list, .starterPack: [FieldSet(.name), FieldSet(.description), FieldSet(.anyText)]
        case .handle: [FieldSet(.handle), FieldSet(.anyText)]
        case .report: [FieldSet(.reason), FieldSet(.anyText)]
        case .collection: FieldSet(.anyText)
        }
    }

    /// The fields a matcher without `in:` reads: the kind's main human-written text.
    public var defaultFields: FieldSet {
        switch self {
        case .post: FieldSet(.text)
        case .profile: [FieldSet(.displayName), FieldSet(.description)]
        case .list, .starterPack: [FieldSet(.name), FieldSet(.description)]
        case .handle: FieldSet(.handle)
        case .report: FieldSet(.reason)
        case .collection: FieldSet(.anyText)
        }
    }

    /// Index of the slot this kind's events use in per-kind tables: 0…4 for the named record and
    /// identity kinds, 5 for every other collection, 6 for reports.
    var slot: Int {
        switch self {
        case .post: 0
        case .profile: 1
        case .list: 2
        case .starterPack: 3
        case .handle: 4
        case .collection: 5
        case .report: 6
        }
    }

    /// Number of slots (see ``slot``).
    static let slotCount = 7

    /// A representative kind per slot, for reading field tables.
    static let slotKinds: [RecordKind] = [.post, .profile, .list, .starterPack, .handle, .collection("*"), .report]
}
