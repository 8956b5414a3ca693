import SeededRandom
import Testing

@testable import ATProto

/// The MST: layers, known roots (the cross-implementation vectors atproto's TypeScript and Go
/// trees agree on), and the shape depending on the keys alone, whatever the order of changes.
@Suite struct MerkleSearchTreeTests {
    static let leaf = try! CID(string: "bafyreie5cvv4h45feadgeuwhbcutmh6t2ceseocckahdoe6uat64zmz454")

    static func key(_ rkey: String) -> [UInt8] { Array("com.example.record/\(rkey)".utf8) }

    static func tree(_ rkeys: [String]) throws -> MerkleSearchTree {
        var tree = MerkleSearchTree()
        for rkey in rkeys { try tree.insert(key(rkey), value: leaf) }
        return tree
    }

    static func height(_ tree: MerkleSearchTree) -> Int? {
        if case .node(let node) = tree.root { node.height } else { nil }
    }

    /// Cases of the interop set's `mst/key_heights.json`.
    @Test func layersCountLeadingZeroBitPairs() {
        #expect(MerkleSearchTree.height(of: Array("blue".utf8)) == 1)
        #expect(MerkleSearchTree.height(of: Array("2653ae71".utf8)) == 0)
        #expect(MerkleSearchTree.height(of: Array("88bfafc7".utf8)) == 2)
        #expect(MerkleSearchTree.height(of: Array("2a92d355".utf8)) == 4)
        #expect(MerkleSearchTree.height(of: Array("app.bsky.feed.post/454397e440ec".utf8)) == 4)
        #expect(MerkleSearchTree.height(of: Array("app.bsky.feed.post/9adeb165882c".utf8)) == 8)
    }

    @Test func knownRoots() throws {
        #expect(MerkleSearchTree().rootCID.string == "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm")
        #expect(
            try Self.tree(["3jqfcqzm3fo2j"]).rootCID.string
                == "bafyreibj4lsc3aqnrvphp5xmrnfoorvru4wynt6lwidqbm2623a6tatzdu")
        #expect(
            try Self.tree(["3jqfcqzm3fx2j"]).rootCID.string
                == "bafyreih7wfei65pxzhauoibu3ls7jgmkju4bspy4t2ha2qdjnzqvoy33ai")
        #expect(
            try Self.tree(["3jqfcqzm3fp2j", "3jqfcqzm3fr2j", "3jqfcqzm3fs2j", "3jqfcqzm3ft2j", "3jqfcqzm4fc2j"])
                .rootCID.string == "bafyreicmahysq4n6wfuxo522m6dpiy7z7qzym3dzs756t5n7nfdgccwq7m")
    }

    @Test func removingTheOnlyKeyOfTheTopLayerTrimsTheRoot() throws {
        var tree = try Self.tree([
            "3jqfcqzm3fn2j", "3jqfcqzm3fo2j", "3jqfcqzm3fp2j", "3jqfcqzm3fs2j", "3jqfcqzm3ft2j", "3jqfcqzm3fu2j",
        ])
        #expect(Self.height(tree) == 1)
        #expect(tree.rootCID.string == "bafyreifnqrwbk6ffmyaz5qtujqrzf5qmxf7cbxvgzktl4e3gabuxbtatv4")
        #expect(try tree.remove(Self.key("3jqfcqzm3fs2j")) == Self.leaf)
        #expect(Self.height(tree) == 0)
        #expect(tree.rootCID.string == "bafyreie4kjuxbwkhzg2i5dljaswcroeih4dgiqq6pazcmunwt2byd725vi")
    }

    @Test func insertionThatSplitsTwoLayersDown() throws {
        var tree = try Self.tree([
            "3jqfcqzm3fo2j", "3jqfcqzm3fp2j", "3jqfcqzm3fr2j", "3jqfcqzm3fs2j", "3jqfcqzm3ft2j", "3jqfcqzm3fz2j",
            "3jqfcqzm4fc2j", "3jqfcqzm4fd2j", "3jqfcqzm4ff2j", "3jqfcqzm4fg2j", "3jqfcqzm4fh2j",
        ])
        let before = "bafyreiettyludka6fpgp33stwxfuwhkzlur6chs4d2v4nkmq2j3ogpdjem"
        #expect(tree.rootCID.string == before)
        try tree.insert(Self.key("3jqfcqzm3fx2j"), value: Self.leaf)
        #expect(Self.height(tree) == 2)
        #expect(tree.rootCID.string == "bafyreid2x5eqs4w4qxvc5jiwda4cien3gw2q6cshofxwnvv7iucrmfohpm")
        try tree.remove(Self.key("3jqfcqzm3fx2j"))
        #expect(Self.height(tree) == 1)
        #expect(tree.rootCID.string == before)
    }

    @Test func newLayersTwoAboveTheRoot() throws {
        var tree = try Self.tree(["3jqfcqzm3ft2j", "3jqfcqzm3fz2j"])
        let layer0 = "bafyreidfcktqnfmykz2ps3dbul35pepleq7kvv526g47xahuz3rqtptmky"
        let layer2 = "bafyreiavxaxdz7o7rbvr3zg2liox2yww46t7g6hkehx4i4h3lwudly7dhy"
        #expect(tree.rootCID.string == layer0)
        try tree.insert(Self.key("3jqfcqzm3fx2j"), value: Self.leaf)
        #expect(tree.rootCID.string == layer2)
        try tree.remove(Self.key("3jqfcqzm3fx2j"))
        #expect(tree.rootCID.string == layer0)
        try tree.insert(Self.key("3jqfcqzm3fx2j"), value: Self.leaf)
        try tree.insert(Self.key("3jqfcqzm4fd2j"), value: Self.leaf)
        #expect(tree.rootCID.string == "bafyreig4jv3vuajbsybhyvb7gggvpwh2zszwfyttjrj6qwvcsp24h6popu")
        try tree.remove(Self.key("3jqfcqzm4fd2j"))
        #expect(Self.height(tree) == 2)
        #expect(tree.rootCID.string == layer2)
    }

    /// Random key sets: any insertion order gives the same root; removing keys gives the root of
    /// the tree that never had them; a tree read back from its blocks has the same root and values.
    @Test(arguments: 0..<12)
    func shapeDependsOnTheKeysAlone(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let count = 1 + Int(rng.next() % 300)
        let keys = (0..<count).map { i in Array("app.bsky.feed.post/\(rng.next() % 1_000_000)-\(i)".utf8) }
        func cid(_ i: Int) -> CID { CID.compute(for: Array("record \(i)".utf8)) }

        var forward = MerkleSearchTree()
        for (i, key) in keys.enumerated() { #expect(try forward.insert(key, value: cid(i)) == nil) }
        var shuffled = MerkleSearchTree()
        for i in keys.indices.shuffled(using: &rng) { try shuffled.insert(keys[i], value: cid(i)) }
        #expect(forward.rootCID == shuffled.rootCID)

        let kept = keys.indices.filter { _ in rng.next() % 3 != 0 }
        var fewer = MerkleSearchTree()
        for i in kept { try fewer.insert(keys[i], value: cid(i)) }
        for i in keys.indices.shuffled(using: &rng) where !kept.contains(i) {
            #expect(try forward.remove(keys[i]) == cid(i))
            #expect(try forward.remove(keys[i]) == nil)
        }
        #expect(forward.rootCID == fewer.rootCID)

        let blocks = Dictionary(fewer.blocks().map { ($0.cid, $0.bytes) }, uniquingKeysWith: { a, _ in a })
        let loaded = try MerkleSearchTree(root: fewer.rootCID, block: { blocks[$0]?[...] })
        #expect(loaded.rootCID == fewer.rootCID)
        for i in kept { #expect(try loaded.value(for: keys[i]) == cid(i)) }
    }

    /// Nodes are written straight to bytes: exactly what encoding the same `CBORValue` gives,
    /// for short and long keys, shared prefixes, links and nulls.
    @Test(arguments: 0..<6)
    func theDirectNodeWriterMatchesTheValueEncoder(seed: UInt64) throws {
        var rng = SplitMix64(seed: 100 + seed)
        var tree = MerkleSearchTree()
        for i in 0..<(50 + Int(rng.next() % 400)) {
            let length = Int(rng.next() % 3 == 0 ? 20 + rng.next() % 300 : rng.next() % 12)
            let tail = String(repeating: "x", count: length)
            try tree.insert(Array("app.bsky.feed.post/\(rng.next() % 100_000)\(tail)-\(i)".utf8), value: Self.leaf)
        }
        var checked = 0
        func visit(_ subtree: MerkleSearchTree.Subtree) {
            guard case .node(let node) = subtree else { return }
            #expect(node.encoded(childCID: \.cid) == node.encodedThroughValues(childCID: \.cid))
            checked += 1
            for child in node.subtrees { if let child { visit(child) } }
        }
        visit(tree.root)
        #expect(checked > 5)
    }

    /// A loaded tree keeps the CIDs of the nodes it did not change, and computes the others: after
    /// any change it has the root a tree built from scratch with the same keys has.
    @Test(arguments: 0..<6)
    func aLoadedTreeChangedHasTheRootOfOneBuiltFromScratch(seed: UInt64) throws {
        var rng = SplitMix64(seed: 200 + seed)
        let keys = (0..<(20 + Int(rng.next() % 300))).map { Array("app.bsky.feed.post/\($0 * 7919 % 100_003)".utf8) }
        let built = try keys.reduce(into: MerkleSearchTree()) { tree, key in try tree.insert(key, value: Self.leaf) }
        let blocks = Dictionary(built.blocks().map { ($0.cid, $0.bytes) }, uniquingKeysWith: { a, _ in a })
        var loaded = try MerkleSearchTree(root: built.rootCID, block: { blocks[$0]?[...] })
        #expect(loaded.rootCID == built.rootCID)
        var expected = built
        for step in 0..<20 {
            if rng.next() % 2 == 0 {
                let key = Array("app.bsky.feed.post/new-\(seed)-\(step)".utf8)
                try loaded.insert(key, value: Self.leaf)
                try expected.insert(key, value: Self.leaf)
            } else {
                let key = keys[Int(rng.next() % UInt64(keys.count))]
                let a = try loaded.remove(key)
                let b = try expected.remove(key)
                #expect(a == b)
            }
            // A tree built from scratch has no loaded CIDs: every node is encoded.
            #expect(loaded.rootCID == expected.rootCID)
        }
        // Removing a key that is not there changes nothing.
        #expect(try loaded.remove(Array("app.bsky.feed.post/absent".utf8)) == nil)
        #expect(loaded.rootCID == expected.rootCID)
    }

    @Test func absentNodesStopOperationsThatNeedThem() throws {
        var full = MerkleSearchTree()
        for i in 0..<200 { try full.insert(Array("app.bsky.feed.like/\(i)".utf8), value: Self.leaf) }
        // Only the root is at hand.
        let blocks = full.blocks()
        let root = blocks[0]
        let partial = try MerkleSearchTree(root: root.cid, block: { $0 == root.cid ? root.bytes[...] : nil })
        #expect(partial.rootCID == full.rootCID)
        var tree = partial
        #expect(throws: MSTError.self) {
            for i in 0..<200 { try tree.remove(Array("app.bsky.feed.like/\(i)".utf8)) }
        }
    }

    @Test func malformedNodesAreTypedErrors() throws {
        func load(_ value: CBORValue) -> MSTError? {
            let bytes = CBOREncoder.encode(value)
            let cid = CID.compute(for: bytes)
            do {
                _ = try MerkleSearchTree(root: cid, block: { $0 == cid ? bytes[...] : nil })
                return nil
            } catch { return error }
        }
        let entry: (String, Int64) -> CBORValue = { key, prefix in
            .map(["k": .bytes(ArraySlice(key.utf8)), "p": .int(prefix), "t": .null, "v": .link(Self.leaf)])
        }
        #expect(load("not a node") != nil)
        #expect(load(.map(["e": []])) != nil)
        #expect(load(.map(["e": [entry("b", 0), entry("a", 0)], "l": .null])) != nil)  // out of order
        #expect(load(.map(["e": [entry("b", 0), entry("c", 5)], "l": .null])) != nil)  // prefix too long
        #expect(load(.map(["e": ["x"], "l": .null])) != nil)
        #expect(load(.map(["e": [], "l": "x"])) != nil)
        #expect(load(.map(["e": [], "l": .null])) == nil)  // the empty tree
        // Keys of different layers in one node.
        #expect(load(.map(["e": [entry("blue", 0), entry("2653ae71", 0)], "l": .null])) != nil)
    }
}
