import Crypto

/// A repository's Merkle search tree (WEB `specs/repository`, "Repo Data Structure"), possibly
/// partial: the nodes a firehose frame carries are loaded, every other node is known only by its
/// CID (``Subtree/absent(_:)``). That is exactly what the sync 1.1 inversion proof needs: undo a
/// commit's operations on the nodes it changed and compare the root with the previous one.
///
/// The tree's shape is a function of its keys alone: a key sits at the layer given by the
/// leading zero bits of its SHA-256 (``height(of:)``), every layer between the root and a key is
/// present (a node may hold no entries, only the subtree below), and the root is the highest
/// layer that holds a key. Insertions and removals keep that shape, so two trees with the same
/// entries have the same root CID however they were built.
///
/// Operations that would have to look into an absent node throw ``MSTError/absentNode(_:)``
/// instead: the frame did not carry enough to prove the change.
public struct MerkleSearchTree: Sendable {
    /// A subtree: loaded, or only its CID.
    public enum Subtree: Sendable {
        case node(Node)
        case absent(CID)
    }

    /// One node: its leaves in key order and the subtrees around them. `subtrees[i]` holds the
    /// keys between `leaves[i-1]` and `leaves[i]`, so there is always one more subtree slot
    /// than leaves (`nil`: no keys there).
    public struct Node: Sendable {
        public struct Leaf: Sendable {
            public var key: [UInt8]
            public var value: CID
        }

        public var height: Int
        public var leaves: [Leaf]
        public var subtrees: [Subtree?]
        /// The CID of the block the node was loaded from, while the node is as loaded; nil once
        /// it changed (and for nodes made here). A proof changes a few nodes of the many a frame
        /// carries: the others keep their CIDs instead of being encoded and hashed again.
        var loadedCID: CID?

        init(height: Int, leaves: [Leaf] = [], subtrees: [Subtree?] = [nil], loadedCID: CID? = nil) {
            self.height = height
            self.leaves = leaves
            self.subtrees = subtrees
            self.loadedCID = loadedCID
        }

        /// No leaves and no subtree: a node that must not exist (except as an empty tree's root).
        var isEmpty: Bool { leaves.isEmpty && subtrees.allSatisfy { $0 == nil } }
    }

    public private(set) var root: Subtree

    /// The empty tree.
    public init() { root = .node(Node(height: 0)) }

    /// The tree whose root block is `root`, with the nodes `block` finds loaded and the others
    /// absent. Each loaded node is checked: well-formed, its keys in order, at its layer and
    /// within the range its parent gives it.
    ///
    /// - Throws: ``MSTError/malformedNode(_:reason:)`` for a node that breaks a rule; an absent
    ///   root is not an error (the tree is then just its CID).
    public init(root: CID, block: (CID) -> ArraySlice<UInt8>?) throws(MSTError) {
        guard let bytes = block(root) else {
            self.root = .absent(root)
            return
        }
        let node = try NodeLoader.node(root, bytes: bytes, height: nil, after: nil, before: nil, block: block)
        if node.leaves.isEmpty && node.subtrees[0] != nil {
            throw MSTError.malformedNode(root, reason: "the root holds no keys, only a subtree")
        }
        self.root = .node(node)
    }

    // MARK: Layers

    /// The layer of `key`: the number of leading zero bits of its SHA-256, in pairs (fanout 4).
    public static func height(of key: some Collection<UInt8>) -> Int {
        let digest = SHA256.hash(data: Array(key))
        var zeros = 0
        for byte in digest {
            if byte == 0 {
                zeros += 4
                continue
            }
            if byte < 0x04 {
                zeros += 3
            } else if byte < 0x10 {
                zeros += 2
            } else if byte < 0x40 {
                zeros += 1
            }
            break
        }
        return zeros
    }

    // MARK: Reading

    /// The value stored under `key`, or nil when the tree does not hold it.
    public func value(for key: [UInt8]) throws(MSTError) -> CID? {
        let height = Self.height(of: key)
        var current = root
        while true {
            guard case .node(let node) = current else {
                if case .absent(let cid) = current { throw MSTError.absentNode(cid) }
                return nil
            }
            if height > node.height { return nil }
            let (index, found) = node.position(of: key)
            if height == node.height { return found ? node.leaves[index].value : nil }
            guard let next = node.subtrees[index] else { return nil }
            current = next
        }
    }

    // MARK: Changing

    /// Stores `value` under `key`; returns the value it replaced, if any.
    @discardableResult
    public mutating func insert(_ key: [UInt8], value: CID) throws(MSTError) -> CID? {
        let height = Self.height(of: key)
        guard case .node(var top) = root else { throw MSTError.absentNode(root.cid) }
        // A key above the root lifts the tree: each new layer starts as one subtree pointer, and
        // the insertion at the key's layer splits it around the key.
        while height > top.height {
            top =
                top.isEmpty
                ? Node(height: height)
                : Node(height: top.height + 1, subtrees: [.node(top)])
        }
        let previous = try top.insert(key, value: value, height: height)
        root = .node(top)
        return previous
    }

    /// Removes `key`; returns its value, or nil when the tree did not hold it (the tree is then
    /// unchanged).
    @discardableResult
    public mutating func remove(_ key: [UInt8]) throws(MSTError) -> CID? {
        let height = Self.height(of: key)
        guard case .node(var top) = root else { throw MSTError.absentNode(root.cid) }
        guard let previous = try top.remove(key, height: height) else { return nil }
        // The root is the highest layer holding a key: layers left with only a subtree go.
        var trimmed = Subtree.node(top)
        while case .node(let node) = trimmed, node.leaves.isEmpty, let only = node.subtrees[0] {
            trimmed = only
        }
        if case .node(let node) = trimmed, node.isEmpty {
            trimmed = .node(Node(height: 0))
        }
        root = trimmed
        return previous
    }

    // MARK: Encoding

    /// The root's CID: every loaded node encoded again, absent ones by the CID they were given.
    public var rootCID: CID { root.cid }

    /// Every loaded node's block, root first.
    public func blocks() -> [(cid: CID, bytes: [UInt8])] {
        var out: [(cid: CID, bytes: [UInt8])] = []
        // Children before parents (a parent's block holds their CIDs), then reversed.
        func visit(_ subtree: Subtree) -> CID {
            switch subtree {
            case .absent(let cid):
                return cid
            case .node(let node):
                let bytes = node.encoded(childCID: visit)
                let cid = CID.compute(for: bytes)
                out.append((cid, bytes))
                return cid
            }
        }
        _ = visit(root)
        return out.reversed()
    }
}

/// Why a tree could not be read or changed.
public enum MSTError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The operation needs a node the blocks at hand do not hold.
    case absentNode(CID)
    /// A node's block breaks the format or the tree's rules.
    case malformedNode(CID, reason: String)

    public var description: String {
        switch self {
        case .absentNode(let cid): "MST node \(cid) is needed but not among the blocks"
        case .malformedNode(let cid, let reason): "MST node \(cid): \(reason)"
        }
    }
}

extension MerkleSearchTree.Subtree {
    /// This subtree's CID (computed for a loaded node).
    public var cid: CID {
        switch self {
        case .absent(let cid): cid
        case .node(let node): node.loadedCID ?? CID.compute(for: node.encoded(childCID: \.cid))
        }
    }
}

// MARK: - Node operations

extension MerkleSearchTree.Node {
    /// Where `key` falls among the leaves: the index of the leaf holding it (`found`), or of the
    /// subtree slot (equally, the insertion index among leaves) whose range holds it.
    func position(of key: [UInt8]) -> (index: Int, found: Bool) {
        var low = 0
        var high = leaves.count
        while low < high {
            let middle = (low + high) / 2
            let other = leaves[middle].key
            if other == key { return (middle, true) }
            if other.lexicographicallyPrecedes(key) { low = middle + 1 } else { high = middle }
        }
        return (low, false)
    }

    /// Inserts below or at this node's layer (`height <= self.height`).
    mutating func insert(_ key: [UInt8], value: CID, height: Int) throws(MSTError) -> CID? {
        loadedCID = nil
        let (index, found) = position(of: key)
        if height == self.height {
            if found {
                let previous = leaves[index].value
                leaves[index].value = value
                return previous
            }
            // The new key splits the subtree whose range it falls in.
            let (left, right) = try Self.split(subtrees[index], at: key)
            leaves.insert(.init(key: key, value: value), at: index)
            subtrees[index] = left
            subtrees.insert(right, at: index + 1)
            return nil
        }
        // Lower: into the subtree whose range holds the key, made (one layer down) if absent.
        var child: Self
        switch subtrees[index] {
        case nil: child = Self(height: self.height - 1)
        case .absent(let cid)?: throw MSTError.absentNode(cid)
        case .node(let node)?: child = node
        }
        let previous = try child.insert(key, value: value, height: height)
        subtrees[index] = .node(child)
        return previous
    }

    /// Removes a key at or below this node's layer; nil when it is not there.
    mutating func remove(_ key: [UInt8], height: Int) throws(MSTError) -> CID? {
        if height > self.height { return nil }
        loadedCID = nil
        let (index, found) = position(of: key)
        if height == self.height {
            guard found else { return nil }
            let previous = leaves[index].value
            // The subtrees on either side of the key become one.
            let merged = try Self.merge(subtrees[index], subtrees[index + 1])
            leaves.remove(at: index)
            subtrees.replaceSubrange(index...(index + 1), with: [merged])
            return previous
        }
        guard let slot = subtrees[index] else { return nil }
        guard case .node(var child) = slot else { throw MSTError.absentNode(slot.cid) }
        guard let previous = try child.remove(key, height: height) else { return nil }
        subtrees[index] = child.isEmpty ? nil : .node(child)
        return previous
    }

    /// The keys of `subtree` below `key` and above it, as two subtrees of the same layer.
    static func split(_ subtree: MerkleSearchTree.Subtree?, at key: [UInt8]) throws(MSTError) -> (
        MerkleSearchTree.Subtree?, MerkleSearchTree.Subtree?
    ) {
        guard let subtree else { return (nil, nil) }
        guard case .node(let node) = subtree else { throw MSTError.absentNode(subtree.cid) }
        let (index, _) = node.position(of: key)
        let (lower, upper) = try split(node.subtrees[index], at: key)
        let left = Self(
            height: node.height, leaves: Array(node.leaves[..<index]),
            subtrees: Array(node.subtrees[..<index]) + [lower])
        let right = Self(
            height: node.height, leaves: Array(node.leaves[index...]),
            subtrees: [upper] + Array(node.subtrees[(index + 1)...]))
        return (left.isEmpty ? nil : .node(left), right.isEmpty ? nil : .node(right))
    }

    /// One subtree holding the keys of `left` then those of `right` (same layer, `left`'s keys
    /// all below `right`'s).
    static func merge(_ left: MerkleSearchTree.Subtree?, _ right: MerkleSearchTree.Subtree?) throws(MSTError)
        -> MerkleSearchTree.Subtree?
    {
        guard let left else { return right }
        guard let right else { return left }
        guard case .node(let l) = left else { throw MSTError.absentNode(left.cid) }
        guard case .node(let r) = right else { throw MSTError.absentNode(right.cid) }
        // Where they meet, the last subtree of one and the first of the other merge in turn.
        let joint = try merge(l.subtrees[l.leaves.count], r.subtrees[0])
        let node = Self(
            height: l.height, leaves: l.leaves + r.leaves,
            subtrees: Array(l.subtrees.dropLast()) + [joint] + Array(r.subtrees.dropFirst()))
        return .node(node)
    }

    /// The node's block: `{e: [{k, p, t, v}], l}`, each key stored as the bytes it does not
    /// share with the previous key (`p` counts the shared ones).
    ///
    /// Written straight to bytes, in the canonical DAG-CBOR that ``CBOREncoder`` would give for
    /// the same value (every map key one byte long, so in plain byte order: `e` `l`, `k` `p` `t`
    /// `v`): a proof encodes every node it changed, and building `CBORValue` trees for them cost
    /// more than the hashing.
    func encoded(childCID: (MerkleSearchTree.Subtree) -> CID) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(16 + leaves.count * 96)
        var scratch: [UInt8] = []
        scratch.reserveCapacity(40)
        func appendLink(_ cid: CID) {
            out.append(contentsOf: [0xd8, 0x2a])  // tag 42
            scratch.removeAll(keepingCapacity: true)
            scratch.append(0x00)  // the multibase identity prefix DAG-CBOR links carry
            cid.appendBytes(to: &scratch)
            CBOREncoder.appendHead(2, UInt64(scratch.count), to: &out)
            out.append(contentsOf: scratch)
        }
        func appendLink(_ subtree: MerkleSearchTree.Subtree?) {
            if let subtree { appendLink(childCID(subtree)) } else { out.append(0xf6) }  // or null
        }
        CBOREncoder.appendHead(5, 2, to: &out)
        out.append(contentsOf: [0x61, UInt8(ascii: "e")])
        CBOREncoder.appendHead(4, UInt64(leaves.count), to: &out)
        var previous: [UInt8] = []
        for (i, leaf) in leaves.enumerated() {
            var shared = 0
            let limit = min(previous.count, leaf.key.count)
            while shared < limit && previous[shared] == leaf.key[shared] { shared += 1 }
            CBOREncoder.appendHead(5, 4, to: &out)
            out.append(contentsOf: [0x61, UInt8(ascii: "k")])
            CBOREncoder.appendHead(2, UInt64(leaf.key.count - shared), to: &out)
            out.append(contentsOf: leaf.key[shared...])
            out.append(contentsOf: [0x61, UInt8(ascii: "p")])
            CBOREncoder.appendHead(0, UInt64(shared), to: &out)
            out.append(contentsOf: [0x61, UInt8(ascii: "t")])
            appendLink(subtrees[i + 1])
            out.append(contentsOf: [0x61, UInt8(ascii: "v")])
            appendLink(leaf.value)
            previous = leaf.key
        }
        out.append(contentsOf: [0x61, UInt8(ascii: "l")])
        appendLink(subtrees[0])
        return out
    }

    /// The same block built as a `CBORValue` and encoded by ``CBOREncoder``: the reference the
    /// direct writer is tested against.
    func encodedThroughValues(childCID: (MerkleSearchTree.Subtree) -> CID) -> [UInt8] {
        var entries: [CBORValue] = []
        entries.reserveCapacity(leaves.count)
        var previous: [UInt8] = []
        for (i, leaf) in leaves.enumerated() {
            var shared = 0
            let limit = min(previous.count, leaf.key.count)
            while shared < limit && previous[shared] == leaf.key[shared] { shared += 1 }
            let right: CBORValue = subtrees[i + 1].map { CBORValue.link(childCID($0)) } ?? .null
            entries.append(
                .map([
                    "k": .bytes(leaf.key[shared...]), "p": .int(Int64(shared)), "t": right, "v": .link(leaf.value),
                ]))
            previous = leaf.key
        }
        let left: CBORValue = subtrees[0].map { CBORValue.link(childCID($0)) } ?? .null
        return CBOREncoder.encode(.map(["e": .array(entries), "l": left]))
    }
}

// MARK: - Loading

/// Reads nodes from their blocks, checking each against the rules a well-formed tree keeps.
enum NodeLoader {
    /// The node in `bytes`, and below it every node `block` finds. `height` is the layer its
    /// parent puts it at (nil for the root); its keys must lie strictly between `after` and
    /// `before`.
    static func node(
        _ cid: CID, bytes: ArraySlice<UInt8>, height expected: Int?, after: [UInt8]?, before: [UInt8]?,
        block: (CID) -> ArraySlice<UInt8>?
    ) throws(MSTError) -> MerkleSearchTree.Node {
        func fail(_ reason: String) -> MSTError { .malformedNode(cid, reason: reason) }
        let value: CBORValue
        do { value = try CBORDecoder().decode(bytes) } catch { throw fail("not DAG-CBOR: \(error)") }
        guard let map = value.mapValue, map.count == 2, let entries = map["e"]?.arrayValue, let left = map["l"] else {
            throw fail("not a node {e, l}")
        }
        var leaves: [MerkleSearchTree.Node.Leaf] = []
        var links: [CID?] = [try link(left, fail)]
        var previous: [UInt8] = []
        for entry in entries {
            guard let fields = entry.mapValue, fields.count == 4, let suffix = fields["k"]?.bytesValue,
                let shared = fields["p"]?.intValue, let valueCID = fields["v"]?.linkValue, let right = fields["t"]
            else {
                throw fail("an entry is not {k, p, t, v}")
            }
            guard shared >= 0, shared <= previous.count else { throw fail("a prefix length is out of range") }
            let key = Array(previous[..<Int(shared)]) + Array(suffix)
            guard !key.isEmpty else { throw fail("a key is empty") }
            if let last = leaves.last?.key, !last.lexicographicallyPrecedes(key) {
                throw fail("keys are not in order")
            }
            if let after, !after.lexicographicallyPrecedes(key) { throw fail("a key is below its subtree's range") }
            if let before, !key.lexicographicallyPrecedes(before) {
                throw fail("a key is above its subtree's range")
            }
            leaves.append(.init(key: key, value: valueCID))
            links.append(try link(right, fail))
            previous = key
        }
        let height: Int
        if let first = leaves.first {
            height = MerkleSearchTree.height(of: first.key)
            for leaf in leaves where MerkleSearchTree.height(of: leaf.key) != height {
                throw fail("holds keys of different layers")
            }
            if let expected, expected != height {
                throw fail("is at layer \(height), its parent puts it at \(expected)")
            }
        } else if let expected {
            height = expected
        } else {
            height = 0
        }
        if height == 0 && links.contains(where: { $0 != nil }) { throw fail("has a subtree below layer 0") }
        if expected != nil && leaves.isEmpty && links[0] == nil { throw fail("is an empty node below the root") }

        var subtrees: [MerkleSearchTree.Subtree?] = []
        subtrees.reserveCapacity(links.count)
        for (i, link) in links.enumerated() {
            guard let link else {
                subtrees.append(nil)
                continue
            }
            guard let childBytes = block(link) else {
                subtrees.append(.absent(link))
                continue
            }
            let child = try node(
                link, bytes: childBytes, height: height - 1, after: i == 0 ? after : leaves[i - 1].key,
                before: i == leaves.count ? before : leaves[i].key, block: block)
            subtrees.append(.node(child))
        }
        return MerkleSearchTree.Node(height: height, leaves: leaves, subtrees: subtrees, loadedCID: cid)
    }

    private static func link(_ value: CBORValue, _ fail: (String) -> MSTError) throws(MSTError) -> CID? {
        if value.isNull { return nil }
        guard let cid = value.linkValue else { throw fail("a subtree is neither a link nor null") }
        return cid
    }
}
