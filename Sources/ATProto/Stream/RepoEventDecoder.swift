/// Turns one `subscribeRepos` WebSocket binary message into a `RepoEvent`.
///
/// A message is two DAG-CBOR items back to back: a header `{op, t}` and a body. Both are decoded
/// strictly; a `#commit`'s CAR is parsed, its commit object checked against the event, and each
/// created or updated record decoded from its block. The decoder holds no state, so one value can
/// serve every connection and task.
public struct RepoEventDecoder: Sendable {
    /// The largest message accepted. The firehose's hard limit is 5 MB per frame.
    public var maxMessageSize: Int
    /// Check every CAR block's sha2-256 against its CID (the relay's data is then not trusted
    /// blindly; costs one hash per block).
    public var verifyBlocks: Bool
    /// Which collections' records to decode. Ops of other collections keep `record == nil`, so a
    /// like or a follow costs a header decode, not a record decode.
    public var decodesRecords: @Sendable (_ collection: String) -> Bool
    public var cbor: CBORDecoder

    public init(
        maxMessageSize: Int = 5_000_000,
        verifyBlocks: Bool = true,
        cbor: CBORDecoder = CBORDecoder(),
        decodesRecords: @escaping @Sendable (_ collection: String) -> Bool = { _ in true }
    ) {
        self.maxMessageSize = maxMessageSize
        self.verifyBlocks = verifyBlocks
        self.cbor = cbor
        self.decodesRecords = decodesRecords
    }

    public func decode(_ message: [UInt8]) throws(FrameError) -> RepoEvent {
        try decode(message[...])
    }

    public func decode(_ message: ArraySlice<UInt8>) throws(FrameError) -> RepoEvent {
        guard message.count <= maxMessageSize else {
            throw FrameError(.tooLarge(size: message.count, limit: maxMessageSize))
        }
        let (header, body) = try FrameCodec.split(message, decoder: cbor)
        switch header {
        case .error:
            guard case .map(let m) = body else {
                throw FrameError(.badField(type: "error", field: "body", reason: "is not a map"))
            }
            let fields = Fields(type: "error", map: m)
            return .error(
                ErrorMessage(error: try fields.string("error"), message: try fields.optionalString("message")))
        case .unknown(let t):
            return .unknown(type: t)
        case .message(let t):
            guard case .map(let m) = body else {
                throw FrameError(.badField(type: t, field: "body", reason: "is not a map"))
            }
            let fields = Fields(type: t, map: m)
            switch t {
            case "#commit": return .commit(try commit(fields))
            case "#identity":
                return .identity(
                    IdentityEvent(
                        seq: try fields.seq(), did: try fields.did("did"), time: try fields.string("time"),
                        handle: try fields.optionalString("handle")))
            case "#account":
                return .account(
                    AccountEvent(
                        seq: try fields.seq(), did: try fields.did("did"), time: try fields.string("time"),
                        active: try fields.bool("active"), status: try fields.optionalString("status")))
            case "#sync": return .sync(try sync(fields))
            case "#info":
                return .info(
                    InfoMessage(name: try fields.string("name"), message: try fields.optionalString("message")))
            default:
                return .unknown(type: t)
            }
        }
    }

    private func commit(_ fields: Fields) throws(FrameError) -> CommitEvent {
        let seq = try fields.seq()
        let repo = try fields.did("repo")
        let rev = try fields.string("rev")
        let commitCID = try fields.link("commit")
        let blocks = try fields.bytes("blocks")
        let car: CAR
        do { car = try CAR(blocks, decoder: cbor) } catch { throw FrameError(.car(error)) }
        if verifyBlocks {
            for block in car.blocks where !block.cid.matches(block: block.data) {
                throw FrameError(.blockMismatch(block.cid))
            }
        }
        try checkCommitObject(in: car, cid: commitCID, did: repo, rev: rev)

        guard let opValues = fields.map["ops"]?.arrayValue else {
            throw FrameError(.badField(type: fields.type, field: "ops", reason: "is missing or not an array"))
        }
        var ops = [RepoOp]()
        ops.reserveCapacity(opValues.count)
        for value in opValues {
            guard case .map(let m) = value else {
                throw FrameError(.badField(type: fields.type, field: "ops", reason: "holds a non-map entry"))
            }
            ops.append(try op(Fields(type: "#repoOp", map: m), car: car))
        }
        return CommitEvent(
            seq: seq, repo: repo, rev: rev, since: try fields.optionalString("since"), commit: commitCID,
            prevData: try fields.optionalLink("prevData"), time: try fields.string("time"), ops: ops,
            blockCount: car.blocks.count, tooBig: try fields.optionalBool("tooBig") ?? false,
            rebase: try fields.optionalBool("rebase") ?? false, blocks: car)
    }

    private func op(_ fields: Fields, car: CAR) throws(FrameError) -> RepoOp {
        let actionText = try fields.string("action")
        guard let action = RepoOp.Action(rawValue: actionText) else {
            throw FrameError(
                .badField(type: fields.type, field: "action", reason: "has unknown value \"\(actionText)\""))
        }
        let path = try fields.string("path")
        guard let (collection, rkey) = RepoPathSplit.split(path) else {
            throw FrameError(.badField(type: fields.type, field: "path", reason: "is not collection/rkey: \"\(path)\""))
        }
        let cid = try fields.optionalLink("cid")
        var record: CBORValue? = nil
        if action != .delete {
            guard let cid else {
                throw FrameError(.badField(type: fields.type, field: "cid", reason: "is null for a \(actionText)"))
            }
            if decodesRecords(collection), let block = car.block(for: cid) {
                do { record = try cbor.decode(block) } catch { throw FrameError(.badRecord(path: path, error)) }
            }
        }
        return RepoOp(
            action: action, collection: collection, rkey: rkey, cid: cid, prev: try fields.optionalLink("prev"),
            record: record)
    }

    private func sync(_ fields: Fields) throws(FrameError) -> SyncEvent {
        let seq = try fields.seq()
        let did = try fields.did("did")
        let rev = try fields.string("rev")
        let blocks = try fields.bytes("blocks")
        let car: CAR
        do { car = try CAR(blocks, decoder: cbor) } catch { throw FrameError(.car(error)) }
        if verifyBlocks {
            for block in car.blocks where !block.cid.matches(block: block.data) {
                throw FrameError(.blockMismatch(block.cid))
            }
        }
        guard let root = car.roots.first else { throw FrameError(.badCommit("the CAR has no root")) }
        try checkCommitObject(in: car, cid: root, did: did, rev: rev)
        return SyncEvent(seq: seq, did: did, rev: rev, timeText: try fields.string("time"), commit: root)
    }

    /// The checks a consumer must make before trusting a commit (sync spec, "Message Validation"):
    /// the CAR's first root is the commit, whose `did`, `rev` and `version` agree with the event.
    private func checkCommitObject(in car: CAR, cid: CID, did: DID, rev: String) throws(FrameError) {
        guard car.roots.first == cid else { throw FrameError(.badCommit("the CAR's first root is not the commit")) }
        guard let block = car.block(for: cid) else { throw FrameError(.badCommit("the commit block is missing")) }
        let object: CBORValue
        do { object = try cbor.decode(block) } catch { throw FrameError(.badCommit("\(error)")) }
        guard let objectDID = object["did"]?.textValue, objectDID == did.rawValue else {
            throw FrameError(.badCommit("its did does not match the event"))
        }
        guard let objectRev = object["rev"]?.textValue, objectRev == rev else {
            throw FrameError(.badCommit("its rev does not match the event"))
        }
        guard object["version"]?.intValue == 3 else { throw FrameError(.badCommit("version is not 3")) }
    }
}

/// Typed access to a message body's fields, producing the right `FrameError` for each failure.
struct Fields {
    let type: String
    let map: CBORMap

    func fail(_ field: String, _ reason: String) -> FrameError {
        FrameError(.badField(type: type, field: field, reason: reason))
    }

    func seq() throws(FrameError) -> Int64 {
        guard let v = map["seq"] else { throw fail("seq", "is missing") }
        guard let i = v.intValue else { throw fail("seq", "is not an integer") }
        guard i > 0 else { throw fail("seq", "is not positive") }
        return i
    }

    func string(_ key: String) throws(FrameError) -> String {
        guard let v = map[key] else { throw fail(key, "is missing") }
        guard let s = v.stringValue else { throw fail(key, "is not a string") }
        return s
    }

    func optionalString(_ key: String) throws(FrameError) -> String? {
        guard let v = map[key], !v.isNull else { return nil }
        guard let s = v.stringValue else { throw fail(key, "is not a string") }
        return s
    }

    func did(_ key: String) throws(FrameError) -> DID {
        let s = try string(key)
        guard DID.isValid(s) else { throw fail(key, "is not a valid DID") }
        return DID(unchecked: s)
    }

    func bool(_ key: String) throws(FrameError) -> Bool {
        guard let v = map[key] else { throw fail(key, "is missing") }
        guard let b = v.boolValue else { throw fail(key, "is not a boolean") }
        return b
    }

    func optionalBool(_ key: String) throws(FrameError) -> Bool? {
        guard let v = map[key], !v.isNull else { return nil }
        guard let b = v.boolValue else { throw fail(key, "is not a boolean") }
        return b
    }

    func link(_ key: String) throws(FrameError) -> CID {
        guard let v = map[key] else { throw fail(key, "is missing") }
        guard let c = v.linkValue else { throw fail(key, "is not a CID link") }
        return c
    }

    func optionalLink(_ key: String) throws(FrameError) -> CID? {
        guard let v = map[key], !v.isNull else { return nil }
        guard let c = v.linkValue else { throw fail(key, "is not a CID link") }
        return c
    }

    func bytes(_ key: String) throws(FrameError) -> ArraySlice<UInt8> {
        guard let v = map[key] else { throw fail(key, "is missing") }
        guard let b = v.bytesValue else { throw fail(key, "is not bytes") }
        return b
    }
}

/// Splits and checks a repo path `collection/rkey` without allocating on failure.
enum RepoPathSplit {
    static func split(_ path: String) -> (String, String)? {
        guard let slash = path.utf8.firstIndex(of: UInt8(ascii: "/")) else { return nil }
        let collection = String(path[..<slash])
        let rkey = String(path[path.utf8.index(after: slash)...])
        guard NSID.isValid(collection), RecordKey.isValid(rkey) else { return nil }
        return (collection, rkey)
    }
}
