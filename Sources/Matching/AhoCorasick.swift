/// A multi-pattern byte automaton (Aho–Corasick): one left-to-right pass over a text finds every
/// occurrence of every pattern, overlapping ones included, in time linear in the text and the
/// number of occurrences, whatever the number of patterns.
///
/// Layout, chosen so a scan step is about one add and one load:
/// * bytes are first mapped to equivalence classes (bytes that occur in no pattern share class 0),
///   which keeps rows short: about 40 classes for ASCII word lists;
/// * states are numbered in breadth-first order, and the first ones (those nearest the root, where
///   a scan spends nearly all its time) get dense rows holding their complete transition function,
///   failure links folded in, within a memory budget (``denseEntryBudget``);
/// * deeper states keep only their trie edges (sparse, usually one) plus a failure link, followed
///   until a dense state answers;
/// * a state is referred to by a handle: the offset of its row for a dense state (no multiply in
///   the loop), `denseLimit + n` for the n-th sparse state;
/// * the top bit of a transition flags states where some pattern ends, so a byte that completes
///   nothing costs no output lookup.
final class AhoCorasick: Sendable {
    /// Dense rows are limited to this many entries (4 bytes each); beyond it states are sparse.
    static let denseEntryBudget = 1 << 18
    private static let matchFlag: UInt32 = 1 << 31

    /// `classOf` (256 bytes), then the class of every sparse edge.
    private let byteTable: [UInt8]
    /// Dense rows, then sparse edge ranges (`sparseCount + 1` starts), edge targets, and failure
    /// handles of sparse states.
    private let wordTable: [UInt32]
    private let classCount: Int
    private let denseCount: Int
    private let denseLimit: UInt32
    private let sparseStartBase: Int
    private let sparseTargetBase: Int
    private let sparseFailBase: Int
    /// Patterns ending exactly at state `s`: `outputs[outputStart[s] ..< outputStart[s + 1]]`.
    private let outputStart: [UInt32]
    private let outputs: [UInt32]
    /// Nearest state on `s`'s failure chain that has outputs of its own, or -1.
    private let outputLink: [Int32]

    /// Number of automaton states (trie nodes).
    var stateCount: Int { outputLink.count }

    /// Approximate memory held by the tables, in bytes.
    var tableBytes: Int {
        byteTable.count + 4 * (wordTable.count + outputStart.count + outputs.count + outputLink.count)
    }

    /// Builds the automaton; pattern `i` is reported as `i`. Patterns must be non-empty.
    init(patterns: [[UInt8]], denseEntryBudget: Int = AhoCorasick.denseEntryBudget) {
        // Byte classes.
        var used = [Bool](repeating: false, count: 256)
        for pattern in patterns { for byte in pattern { used[Int(byte)] = true } }
        var classOf = [UInt8](repeating: 0, count: 256)
        var nextClass = used.contains(false) ? 1 : 0
        for byte in 0..<256 where used[byte] {
            classOf[byte] = UInt8(nextClass)
            nextClass += 1
        }
        let classCount = max(nextClass, 1)

        // Trie, in breadth-first order: shallow states first, so a failure target always precedes
        // its source and the dense states are the shallowest.
        let trie = Trie(patterns: patterns, classOf: classOf)
        let nodeCount = trie.children.count
        let children = trie.children
        let denseCount = min(nodeCount, max(1, denseEntryBudget / classCount))
        let denseLimit = denseCount * classCount
        func handle(_ state: Int) -> UInt32 {
            UInt32(state < denseCount ? state * classCount : denseLimit + state - denseCount)
        }
        func state(_ handle: UInt32) -> Int {
            Int(handle) < denseLimit ? Int(handle) / classCount : denseCount + Int(handle) - denseLimit
        }

        var dense = [UInt32](repeating: 0, count: denseLimit)  // handles, root = 0
        var fail = [Int](repeating: 0, count: nodeCount)
        // The full transition on `cls` from `start`, whose failure chain is already known.
        func delta(_ start: Int, _ cls: UInt8) -> Int {
            var s = start
            while true {
                if s < denseCount { return state(dense[s * classCount + Int(cls)]) }
                if let edge = children[s].first(where: { $0.cls == cls }) { return edge.child }
                s = fail[s]
            }
        }
        for s in 0..<nodeCount {
            if s < denseCount {
                let row = s * classCount
                if s > 0 {
                    let fallback = fail[s] * classCount
                    for cls in 0..<classCount { dense[row + cls] = dense[fallback + cls] }
                }
                for edge in children[s] { dense[row + Int(edge.cls)] = handle(edge.child) }
            }
            for edge in children[s] {
                fail[edge.child] = s == 0 ? 0 : delta(fail[s], edge.cls)
            }
        }

        // Output links and the match flag.
        var outputLink = [Int32](repeating: -1, count: nodeCount)
        var matches = [Bool](repeating: false, count: nodeCount)
        for s in 1..<max(nodeCount, 1) {
            let f = fail[s]
            outputLink[s] = trie.outputs[f].isEmpty ? outputLink[f] : Int32(f)
            matches[s] = !trie.outputs[s].isEmpty || outputLink[s] >= 0
        }
        func flagged(_ handle: UInt32) -> UInt32 {
            matches[state(handle)] ? handle | Self.matchFlag : handle
        }

        var byteTable = classOf
        var wordTable = dense.map(flagged)
        let sparseCount = nodeCount - denseCount
        var edgeStarts: [UInt32] = [0]
        var edgeTargets: [UInt32] = []
        for s in denseCount..<nodeCount {
            for edge in children[s] {
                byteTable.append(edge.cls)
                edgeTargets.append(flagged(handle(edge.child)))
            }
            edgeStarts.append(UInt32(edgeTargets.count))
        }
        sparseStartBase = wordTable.count
        wordTable += edgeStarts
        sparseTargetBase = wordTable.count
        wordTable += edgeTargets
        sparseFailBase = wordTable.count
        wordTable += (denseCount..<nodeCount).map { handle(fail[$0]) }
        assert(wordTable.count == sparseFailBase + sparseCount)

        var outputStart: [UInt32] = [0]
        var outputs: [UInt32] = []
        for s in 0..<nodeCount {
            outputs += trie.outputs[s]
            outputStart.append(UInt32(outputs.count))
        }

        self.byteTable = byteTable
        self.wordTable = wordTable
        self.classCount = classCount
        self.denseCount = denseCount
        self.denseLimit = UInt32(denseLimit)
        self.outputStart = outputStart
        self.outputs = outputs
        self.outputLink = outputLink
    }

    /// Calls `onMatch(pattern, end)` for every occurrence, in order of its end offset (exclusive);
    /// the occurrence starts at `end - patterns[pattern].count`.
    func scan(_ text: UnsafeBufferPointer<UInt8>, _ onMatch: (_ pattern: Int, _ end: Int) -> Void) {
        byteTable.withUnsafeBufferPointer { bytes in
            wordTable.withUnsafeBufferPointer { words in
                let denseLimit = self.denseLimit
                let sparseStart = sparseStartBase, sparseTarget = sparseTargetBase, sparseFail = sparseFailBase
                var current: UInt32 = 0
                for i in 0..<text.count {
                    let cls = bytes[Int(text[i])]
                    var h = current
                    var target: UInt32
                    while true {
                        if h < denseLimit {
                            target = words[Int(h &+ UInt32(cls))]
                            break
                        }
                        let sparse = Int(h &- denseLimit)
                        var edge = Int(words[sparseStart &+ sparse])
                        let end = Int(words[sparseStart &+ sparse &+ 1])
                        while edge < end, bytes[256 &+ edge] != cls { edge &+= 1 }
                        if edge < end {
                            target = words[sparseTarget &+ edge]
                            break
                        }
                        h = words[sparseFail &+ sparse]
                    }
                    current = target & ~Self.matchFlag
                    if target & Self.matchFlag != 0 { report(current, end: i &+ 1, onMatch) }
                }
            }
        }
    }

    private func report(_ handle: UInt32, end: Int, _ onMatch: (Int, Int) -> Void) {
        var s = handle < denseLimit ? Int(handle) / classCount : denseCount + Int(handle - denseLimit)
        while s >= 0 {
            for i in Int(outputStart[s])..<Int(outputStart[s + 1]) { onMatch(Int(outputs[i]), end) }
            s = Int(outputLink[s])
        }
    }
}

/// The keyword trie an ``AhoCorasick`` is built from, with states renumbered breadth-first.
private struct Trie {
    /// Edges of each state as (byte class, child), sorted by class.
    var children: [[(cls: UInt8, child: Int)]]
    /// Patterns ending at each state.
    var outputs: [[UInt32]]

    init(patterns: [[UInt8]], classOf: [UInt8]) {
        var edges: [[(cls: UInt8, child: Int)]] = [[]]
        var terminal: [[UInt32]] = [[]]
        for (index, pattern) in patterns.enumerated() {
            precondition(!pattern.isEmpty, "empty pattern")
            var node = 0
            for byte in pattern {
                let cls = classOf[Int(byte)]
                if let edge = edges[node].first(where: { $0.cls == cls }) {
                    node = edge.child
                } else {
                    edges.append([])
                    terminal.append([])
                    edges[node].append((cls, edges.count - 1))
                    node = edges.count - 1
                }
            }
            terminal[node].append(UInt32(index))
        }

        var order = [0]
        var newID = [Int](repeating: 0, count: edges.count)
        var head = 0
        while head < order.count {
            let node = order[head]
            newID[node] = head
            head += 1
            for edge in edges[node].sorted(by: { $0.cls < $1.cls }) { order.append(edge.child) }
        }
        children = order.map { node in edges[node].map { ($0.cls, newID[$0.child]) }.sorted { $0.cls < $1.cls } }
        outputs = order.map { terminal[$0] }
    }
}
