import ATProto

/// One event as the engine sees it: a record operation (create, update, delete) or an identity
/// event (an account's handle), with the time the caller decided it happened at.
public struct RecordContext: Sendable {
    public enum Action: String, Sendable {
        case create, update, delete
    }

    /// The account.
    public var did: String
    /// The record's collection NSID; empty for identity events.
    public var collection: String
    /// The record key; empty for identity events.
    public var rkey: String
    public var action: Action
    /// The new record's CID (creates and updates).
    public var cid: String?
    /// The replaced or deleted record's CID, when the producer sent it; negations carry it, since
    /// the label being negated was applied to that version.
    public var previousCID: String?
    /// The decoded record (creates and updates).
    public var record: CBORValue?
    /// The account's handle, for identity events.
    public var handle: String?
    /// Microseconds since the Unix epoch: the base of `exp` and of threshold windows. The engine
    /// never reads the clock itself.
    public var time: Int64
    /// For a report (see ``report(_:subject:cid:time:)``): what report rules read besides the
    /// subject; nil for stream events.
    public var report: ReportFacts?

    public init(
        did: String, collection: String, rkey: String, action: Action, cid: String? = nil,
        previousCID: String? = nil, record: CBORValue?, time: Int64
    ) {
        self.did = did
        self.collection = collection
        self.rkey = rkey
        self.action = action
        self.cid = cid
        self.previousCID = previousCID
        self.record = record
        self.time = time
    }

    /// A repository operation of a commit by `did`, as the stream delivers it.
    public init(did: DID, op: RepoOp, time: Int64) { self.init(did: did.rawValue, op: op, time: time) }

    /// An identity event, as the stream delivers it (see the other `identity`).
    public static func identity(did: DID, handle: String, time: Int64) -> RecordContext {
        identity(did: did.rawValue, handle: handle, time: time)
    }

    /// A repository operation of a commit by `did`.
    public init(did: String, op: RepoOp, time: Int64) {
        let action: Action =
            switch op.action {
            case .create: .create
            case .update: .update
            case .delete: .delete
            }
        self.init(
            did: did, collection: op.collection, rkey: op.rkey, action: action, cid: op.cid?.string,
            previousCID: op.prev?.string, record: op.record, time: time)
    }

    /// An identity event: `did` now has `handle`. It is evaluated like an update of a record
    /// (a handle that no longer matches negates, with `on_no_match: negate`).
    public static func identity(did: String, handle: String, time: Int64) -> RecordContext {
        var context = RecordContext(did: did, collection: "", rkey: "", action: .update, record: nil, time: time)
        context.handle = handle
        return context
    }

    /// Whether this is an identity event.
    public var isIdentity: Bool { handle != nil && collection.isEmpty }

    /// `at://did/collection/rkey` (the DID for identity events and reports of an account).
    public var uri: String { collection.isEmpty ? did : "at://" + did + "/" + collection + "/" + rkey }

    /// The per-kind slot of this event (see ``RecordKind``).
    var slot: Int {
        if report != nil { return RecordKind.report.slot }
        if isIdentity { return RecordKind.handle.slot }
        switch collection {
        case Collections.post: return RecordKind.post.slot
        case Collections.profile: return RecordKind.profile.slot
        case Collections.list: return RecordKind.list.slot
        case Collections.starterPack: return RecordKind.starterPack.slot
        default: return RecordKind.collection("*").slot
        }
    }
}
