/// One message of `com.atproto.sync.subscribeRepos`, decoded.
public enum RepoEvent: Sendable {
    case commit(CommitEvent)
    case sync(SyncEvent)
    case identity(IdentityEvent)
    case account(AccountEvent)
    case info(InfoMessage)
    /// An error frame (`op: -1`); the server closes the stream after it.
    case error(ErrorMessage)
    /// A message of a type this decoder does not know. Clients must ignore these, not fail.
    case unknown(type: String)

    /// The stream sequence number; nil for `#info`, error and unknown frames, which must not move
    /// a cursor.
    public var seq: Int64? {
        switch self {
        case .commit(let e): e.seq
        case .sync(let e): e.seq
        case .identity(let e): e.seq
        case .account(let e): e.seq
        case .info, .error, .unknown: nil
        }
    }

    /// The account the event is about.
    public var did: DID? {
        switch self {
        case .commit(let e): e.repo
        case .sync(let e): e.did
        case .identity(let e): e.did
        case .account(let e): e.did
        case .info, .error, .unknown: nil
        }
    }
}

/// `#commit`: a repo changed. Created and updated records are decoded from the CAR in `blocks`.
public struct CommitEvent: Sendable {
    public var seq: Int64
    /// The account's DID (the only event that calls it `repo`).
    public var repo: DID
    public var rev: String
    /// The previous commit's rev; nil on an account's first commit.
    public var since: String?
    /// The commit block's CID; nil from Jetstream, which does not carry it.
    public var commit: CID?
    public var prevData: CID?
    /// When the relay broadcast it, as sent (read as a datetime only when asked: `time`).
    public var timeText: String
    public var ops: [RepoOp]
    /// Number of blocks in the CAR slice.
    public var blockCount: Int
    public var tooBig: Bool
    public var rebase: Bool
    /// The CAR slice (`blocks`): the signed commit, the changed MST nodes and the records, kept
    /// (as slices of the message, not copies) so that the commit can be verified; nil from
    /// Jetstream, which does not carry them.
    public var blocks: CAR?

    public init(
        seq: Int64, repo: DID, rev: String, since: String?, commit: CID?, prevData: CID?, time: String,
        ops: [RepoOp], blockCount: Int = 0, tooBig: Bool = false, rebase: Bool = false, blocks: CAR? = nil
    ) {
        self.seq = seq
        self.repo = repo
        self.rev = rev
        self.since = since
        self.commit = commit
        self.prevData = prevData
        timeText = time
        self.ops = ops
        self.blockCount = blockCount
        self.tooBig = tooBig
        self.rebase = rebase
        self.blocks = blocks
    }
}

/// One operation of a commit.
public struct RepoOp: Sendable {
    public enum Action: String, Sendable {
        case create, update, delete
    }

    public var action: Action
    /// The NSID of the record's collection.
    public var collection: String
    public var rkey: String
    /// The new record's CID; nil for deletes.
    public var cid: CID?
    /// The previous record's CID, when the producer sent it (updates and deletes).
    public var prev: CID?
    /// The decoded record for creates and updates, when the decoder was asked to decode this
    /// collection and the block was present.
    public var record: CBORValue?

    public init(action: Action, collection: String, rkey: String, cid: CID?, prev: CID? = nil, record: CBORValue?) {
        self.action = action
        self.collection = collection
        self.rkey = rkey
        self.cid = cid
        self.prev = prev
        self.record = record
    }

    public var path: String { collection + "/" + rkey }

    /// The record's `at://` URI in `repo`.
    public func uri(in repo: DID) -> String { "at://" + repo.rawValue + "/" + collection + "/" + rkey }
}

/// `#sync`: declares an account's current commit, resetting its chain.
public struct SyncEvent: Sendable {
    public var seq: Int64
    public var did: DID
    public var rev: String
    /// When the relay broadcast it, as sent (read as a datetime only when asked: `time`).
    public var timeText: String
    public var commit: CID?
}

/// `#identity`: the account's handle or DID document may have changed.
public struct IdentityEvent: Sendable {
    public var seq: Int64
    public var did: DID
    /// When the relay broadcast it, as sent (read as a datetime only when asked: `time`).
    public var timeText: String
    public var handle: String?

    public init(seq: Int64, did: DID, time: String, handle: String?) {
        self.seq = seq
        self.did = did
        timeText = time
        self.handle = handle
    }
}

/// `#account`: the host's view of whether it serves the account.
public struct AccountEvent: Sendable {
    public var seq: Int64
    public var did: DID
    /// When the relay broadcast it, as sent (read as a datetime only when asked: `time`).
    public var timeText: String
    public var active: Bool
    /// Set when `active` is false: takendown, suspended, deleted, deactivated, desynchronized, throttled.
    public var status: String?

    public init(seq: Int64, did: DID, time: String, active: Bool, status: String?) {
        self.seq = seq
        self.did = did
        timeText = time
        self.active = active
        self.status = status
    }
}

/// `#info`: an informational message such as `OutdatedCursor`.
public struct InfoMessage: Sendable, Equatable {
    public var name: String
    public var message: String?

    public init(name: String, message: String? = nil) {
        self.name = name
        self.message = message
    }
}

/// An error frame's body, e.g. `FutureCursor` or `ConsumerTooSlow`.
public struct ErrorMessage: Sendable, Equatable {
    public var error: String
    public var message: String?

    public init(error: String, message: String? = nil) {
        self.error = error
        self.message = message
    }
}

/// The relay's time of an event, read when asked: most events are never asked (the labeler reads
/// it only when a rule looks at the event), and parsing it costs as much as a small record.
public protocol RelayTimed {
    var timeText: String { get }
}

extension RelayTimed {
    /// When the relay broadcast the event; nil when its text is not an atproto datetime (the
    /// event is still delivered: a time the labeler cannot read is no reason to skip a record).
    public var time: Datetime? { try? Datetime(timeText) }
}

extension CommitEvent: RelayTimed {}
extension SyncEvent: RelayTimed {}
extension IdentityEvent: RelayTimed {}
extension AccountEvent: RelayTimed {}
