import ATProto

/// One account's repository written commit by commit as a PDS writes it, each commit turned into
/// the `#commit` frame a sync 1.1 relay sends: the signed commit, the MST nodes the commit made,
/// the nodes needed to undo its ops (the inversion proof), the records, and `prevData`.
///
/// Tests and benchmarks use it for real, verifiable traffic. Signing is a closure so that this
/// module needs no signing library: pass `SigningKey.sign`.
public struct RepoWriter {
    /// One change to a record.
    public enum Operation {
        case create(path: String, record: CBORValue)
        case update(path: String, record: CBORValue)
        case delete(path: String)
    }

    public let did: String
    public private(set) var tree = MerkleSearchTree()
    /// The latest commit's rev; nil before the first.
    public private(set) var rev: String?
    private var clock: UInt64

    /// - Parameter clock: the microsecond time of the first rev; each commit moves it on by one
    ///   millisecond, so revs increase.
    public init(did: String, clock: UInt64 = 1_750_000_000_000_000) {
        self.did = did
        self.clock = clock
    }

    /// Applies `operations` and returns the commit's frame, signed with `sign`.
    ///
    /// - Parameter forge: changes the commit's fields before they are signed (another `did` or
    ///   `rev`, say), for tests of commits that disagree with their event.
    public mutating func commit(
        seq: Int64, _ operations: [Operation], time: String = "2026-12-02T00:00:00.000Z",
        forge: (inout CBORMap) -> Void = { _ in }, sign: ([UInt8]) throws -> [UInt8]
    ) throws -> [UInt8] {
        let previousRoot = tree.rootCID
        let previousNodes = Set(tree.blocks().map(\.cid))
        var ops: [CBORValue] = []
        var records: [(CID, [UInt8])] = []
        for operation in operations {
            switch operation {
            case .create(let path, let record), .update(let path, let record):
                let bytes = CBOREncoder.encode(record)
                let cid = CID.compute(for: bytes)
                records.append((cid, bytes))
                let prev = try tree.insert(Array(path.utf8), value: cid)
                var op: [(String, CBORValue)] = [
                    ("action", prev == nil ? "create" : "update"), ("path", .text(CBORText(path))), ("cid", .link(cid)),
                ]
                if let prev { op.append(("prev", .link(prev))) }
                ops.append(.map(CBORMap(op)))
            case .delete(let path):
                guard let prev = try tree.remove(Array(path.utf8)) else { continue }
                ops.append(
                    .map(["action": "delete", "path": .text(CBORText(path)), "cid": .null, "prev": .link(prev)]))
            }
        }
        let nodes = tree.blocks()
        let allNodes = Dictionary(nodes.map { ($0.cid, $0.bytes) }, uniquingKeysWith: { a, _ in a })
        var carried = Dictionary(
            nodes.filter { !previousNodes.contains($0.cid) }.map { ($0.cid, $0.bytes) }, uniquingKeysWith: { a, _ in a }
        )
        // Add the unchanged nodes that undoing the ops has to look into, one at a time.
        while let needed = try Self.nodeMissingFromProof(root: tree.rootCID, ops: ops, blocks: carried) {
            carried[needed] = allNodes[needed]
        }

        let previousRev = rev
        clock += 1_000
        let newRev = TID(micros: clock, clockID: 0).rawValue
        rev = newRev
        var unsigned: CBORMap = [
            "did": .text(CBORText(did)), "version": 3, "data": .link(tree.rootCID), "rev": .text(CBORText(newRev)),
            "prev": .null,
        ]
        forge(&unsigned)
        let sig = try sign(CBOREncoder.encode(.map(unsigned)))
        let commitBlock = CBOREncoder.encode(.map(unsigned.setting("sig", to: .bytes(sig[...]))))
        let commitCID = CID.compute(for: commitBlock)
        let blocks =
            [(commitCID, commitBlock)] + carried.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } + records
        let body: CBORMap = [
            "seq": .int(seq), "rebase": false, "tooBig": false, "repo": .text(CBORText(did)),
            "commit": .link(commitCID), "rev": .text(CBORText(newRev)),
            "since": previousRev.map { CBORValue.text(CBORText($0)) } ?? .null,
            "blocks": .bytes(Self.car(root: commitCID, blocks)[...]),
            "ops": .array(ops), "blobs": [], "prevData": .link(previousRoot), "time": .text(CBORText(time)),
        ]
        return FrameCodec.encodeMessage(type: "#commit", body: body)
    }

    /// The first node that undoing `ops` on the tree at `root` needs and `blocks` lacks; nil
    /// when the blocks suffice.
    static func nodeMissingFromProof(root: CID, ops: [CBORValue], blocks: [CID: [UInt8]]) throws(MSTError) -> CID? {
        do throws(MSTError) {
            var tree = try MerkleSearchTree(root: root, block: { blocks[$0]?[...] })
            for op in ops.reversed() {
                let key = Array((op["path"]?.stringValue ?? "").utf8)
                if let prev = op["prev"]?.linkValue {
                    try tree.insert(key, value: prev)
                } else {
                    try tree.remove(key)
                }
            }
            return nil
        } catch {
            guard case .absentNode(let cid) = error else { throw error }
            return cid
        }
    }

    /// A CAR v1 file of `blocks` with `root`.
    public static func car(root: CID, _ blocks: [(CID, [UInt8])]) -> [UInt8] {
        var car = [UInt8]()
        let header = CBOREncoder.encode(.map(["roots": [.link(root)], "version": 1]))
        Varint.append(UInt64(header.count), to: &car)
        car.append(contentsOf: header)
        for (cid, data) in blocks {
            let cidBytes = cid.bytes
            Varint.append(UInt64(cidBytes.count + data.count), to: &car)
            car.append(contentsOf: cidBytes)
            car.append(contentsOf: data)
        }
        return car
    }
}
