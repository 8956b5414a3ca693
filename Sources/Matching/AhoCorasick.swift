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
    convenience init(patterns: [[UInt8]], denseEntryBudget: Int = AhoCorasick.denseEntryBudget) {
        var strings = ByteStrings()
        for pattern in patterns { pattern.withUnsafeBufferPointer { strings.append($0) } }
        self.init(patterns: strings, denseEntryBudget: denseEntryBudget)
    }

    /// Builds the automaton; pattern `i` is reported as `i`. Patterns must be non-empty.
    ///
    /// Time and memory are linear in the total length of the patterns (times the alphabet at the
    /// few states that get dense rows): the trie is built in flat arrays, renumbered breadth-first
    /// so that each state's children are consecutive states (the edge list is then all that
    /// describes the trie), and failure links are computed once, in that order. No structure is
    /// allocated per state.
    init(patterns: ByteStrings, denseEntryBudget: Int = AhoCorasick.denseEntryBudget) {
        // Byte classes.
        var used = [Bool](repeating: false, count: 256)
        patterns.bytes.withUnsafeBufferPointer { for byte in $0 { used[Int(byte)] = true } }
        var classOf = [UInt8](repeating: 0, count: 256)
        var nextClass = used.contains(false) ? 1 : 0
        for byte in 0..<256 where used[byte] {
            classOf[byte] = UInt8(nextClass)
            nextClass += 1
        }
        let classCount = max(nextClass, 1)

        let trie = Trie(patterns: patterns, classOf: classOf)
        let nodeCount = trie.nodeCount
        let denseCount = min(nodeCount, max(1, denseEntryBudget / classCount))
        let denseLimit = denseCount * classCount
        func handle(_ state: Int) -> UInt32 {
            UInt32(truncatingIfNeeded: state < denseCount ? state * classCount : denseLimit + state - denseCount)
        }
        func state(_ handle: UInt32) -> Int {
            Int(handle) < denseLimit ? Int(handle) / classCount : denseCount + Int(handle) - denseLimit
        }

        // Failure links in breadth-first order (a state's failure target is shallower, so it is
        // done before it), and the dense rows with the failure transitions folded in.
        var dense = [UInt32](repeating: 0, count: denseLimit)  // handles, root = 0
        var fail = [UInt32](repeating: 0, count: nodeCount)
        trie.edgeStart.withUnsafeBufferPointer { edgeStart in
            trie.edgeClass.withUnsafeBufferPointer { edgeClass in
                // The full transition on `cls` from `start`, whose failure chain is already known.
                func delta(_ start: Int, _ cls: UInt8) -> Int {
                    var s = start
                    while true {
                        if s < denseCount { return state(dense[s &* classCount &+ Int(cls)]) }
                        for edge in Int(edgeStart[s])..<Int(edgeStart[s &+ 1]) where edgeClass[edge] == cls {
                            return edge &+ 1
                        }
                        s = Int(fail[s])
                    }
                }
                for s in 0..<nodeCount {
                    let edges = Int(edgeStart[s])..<Int(edgeStart[s &+ 1])
                    if s < denseCount {
                        let row = s * classCount
                        if s > 0 {
                            let fallback = Int(fail[s]) * classCount
                            for cls in 0..<classCount { dense[row + cls] = dense[fallback + cls] }
                        }
                        for edge in edges { dense[row + Int(edgeClass[edge])] = handle(edge + 1) }
                    }
                    for edge in edges {
                        fail[edge + 1] = s == 0 ? 0 : UInt32(truncatingIfNeeded: delta(Int(fail[s]), edgeClass[edge]))
                    }
                }
            }
        }

        // Patterns ending at each state, grouped by state.
        var outputStart = [UInt32](repeating: 0, count: nodeCount + 1)
        for end in trie.patternEnd { outputStart[Int(end) + 1] += 1 }
        for s in 0..<nodeCount { outputStart[s + 1] += outputStart[s] }
        var outputs = [UInt32](repeating: 0, count: trie.patternEnd.count)
        do {
            var next = outputStart
            for (pattern, end) in trie.patternEnd.enumerated() {
                outputs[Int(next[Int(end)])] = UInt32(pattern)
                next[Int(end)] += 1
            }
        }

        // Output links and the match flag.
        var outputLink = [Int32](repeating: -1, count: nodeCount)
        var matches = [Bool](repeating: false, count: nodeCount)
        for s in 1..<max(nodeCount, 1) {
            let f = Int(fail[s])
            outputLink[s] = outputStart[f + 1] == outputStart[f] ? outputLink[f] : Int32(f)
            matches[s] = outputStart[s + 1] > outputStart[s] || outputLink[s] >= 0
        }
        func flagged(_ handle: UInt32) -> UInt32 {
            matches[state(handle)] ? handle | Self.matchFlag : handle
        }

        // The scan tables: dense rows, then the sparse states' edges and failure handles.
        let firstSparseEdge = Int(trie.edgeStart[denseCount])
        let sparseEdges = Int(trie.edgeStart[nodeCount]) - firstSparseEdge
        let sparseCount = nodeCount - denseCount
        var byteTable = classOf
        byteTable.reserveCapacity(256 + sparseEdges)
        var wordTable: [UInt32] = []
        wordTable.reserveCapacity(denseLimit + (sparseCount + 1) + sparseEdges + sparseCount)
        for entry in dense { wordTable.append(flagged(entry)) }
        dense = []
        sparseStartBase = wordTable.count
        for s in denseCount...nodeCount { wordTable.append(trie.edgeStart[s] - UInt32(firstSparseEdge)) }
        sparseTargetBase = wordTable.count
        for edge in firstSparseEdge..<firstSparseEdge + sparseEdges {
            byteTable.append(trie.edgeClass[edge])
            wordTable.append(flagged(handle(edge + 1)))
        }
        sparseFailBase = wordTable.count
        for s in denseCount..<nodeCount { wordTable.append(handle(Int(fail[s]))) }
        assert(wordTable.count == sparseFailBase + sparseCount)

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

/// The keyword trie an ``AhoCorasick`` is built from, in flat arrays, with states numbered
/// breadth-first. In that numbering the children of a state are consecutive, and edge `e` (edges
/// listed state by state) leads to state `e + 1`, so the trie is fully described by where each
/// state's edges start and the byte class of each edge.
///
/// It is built level by level, like a most-significant-digit radix sort: each state owns the
/// range of patterns that pass through it (in one permutation of the patterns), and splits it by
/// the patterns' next byte into its children's ranges. States come out in breadth-first order
/// directly, nothing is looked up in a growing trie, and the only memory touched at random is
/// the patterns' bytes, which are far smaller than the trie (a pointer-linked trie of ten million
/// states spends its build time waiting on cache misses).
private struct Trie {
    /// Edges of state `s`: `edgeStart[s] ..< edgeStart[s + 1]`, sorted by class (`nodeCount + 1`
    /// entries).
    let edgeStart: [UInt32]
    /// The byte class of each edge; edge `e` leads to state `e + 1`.
    let edgeClass: [UInt8]
    /// The state where each pattern ends.
    let patternEnd: [UInt32]

    var nodeCount: Int { edgeStart.count - 1 }

    /// Below this many patterns a state sorts its range by insertion rather than by counting.
    private static let countingSortMinimum = 24

    init(patterns: ByteStrings, classOf: [UInt8]) {
        let count = patterns.count
        var edgeStart: [UInt32] = []
        var edgeClass: [UInt8] = []
        edgeStart.reserveCapacity(patterns.byteCount + 2)
        edgeClass.reserveCapacity(patterns.byteCount)
        var ends = [UInt32](repeating: 0, count: count)
        // Patterns grouped by the state they pass through; a state's group is a range of it.
        var order = (0..<count).map { UInt32(truncatingIfNeeded: $0) }
        var sorted = [UInt32](repeating: 0, count: count)
        var level: [(lo: UInt32, hi: UInt32)] = [(0, UInt32(truncatingIfNeeded: count))]
        var next: [(lo: UInt32, hi: UInt32)] = []
        var counts = [Int](repeating: 0, count: 257)
        patterns.bytes.withUnsafeBufferPointer { bytes in
            patterns.ends.withUnsafeBufferPointer { patternEnds in
                order.withUnsafeMutableBufferPointer { order in
                    sorted.withUnsafeMutableBufferPointer { sorted in
                        @inline(__always) func start(_ p: UInt32) -> Int { p == 0 ? 0 : Int(patternEnds[Int(p) &- 1]) }
                        var depth = 0
                        var state = 0
                        while !level.isEmpty {
                            next.removeAll(keepingCapacity: true)
                            // The class of pattern `p`'s byte at `depth` (it is longer than `depth`).
                            @inline(__always) func cls(_ p: UInt32) -> UInt8 {
                                classOf[Int(bytes[start(p) &+ depth])]
                            }
                            for range in level {
                                edgeStart.append(UInt32(truncatingIfNeeded: edgeClass.count))
                                var lo = Int(range.lo)
                                let hi = Int(range.hi)
                                // Patterns that end here leave the range.
                                for i in lo..<hi {
                                    let p = order[i]
                                    if Int(patternEnds[Int(p)]) - start(p) == depth {
                                        precondition(depth > 0, "empty pattern")
                                        ends[Int(p)] = UInt32(truncatingIfNeeded: state)
                                        order.swapAt(i, lo)
                                        lo &+= 1
                                    }
                                }
                                if hi - lo == 1 {
                                    edgeClass.append(cls(order[lo]))
                                    next.append((UInt32(lo), UInt32(hi)))
                                } else if hi - lo < Self.countingSortMinimum {
                                    if hi - lo > 1 {
                                        for i in (lo &+ 1)..<hi {
                                            let p = order[i]
                                            let key = cls(p)
                                            var j = i
                                            while j > lo, cls(order[j &- 1]) > key {
                                                order[j] = order[j &- 1]
                                                j &-= 1
                                            }
                                            order[j] = p
                                        }
                                    }
                                    var runStart = lo
                                    while runStart < hi {
                                        let key = cls(order[runStart])
                                        var runEnd = runStart &+ 1
                                        while runEnd < hi, cls(order[runEnd]) == key { runEnd &+= 1 }
                                        edgeClass.append(key)
                                        next.append((UInt32(runStart), UInt32(runEnd)))
                                        runStart = runEnd
                                    }
                                } else {
                                    for c in counts.indices { counts[c] = 0 }
                                    for i in lo..<hi { counts[Int(cls(order[i])) &+ 1] &+= 1 }
                                    for c in 1..<counts.count { counts[c] &+= counts[c &- 1] }
                                    for c in 0..<256 where counts[c &+ 1] > counts[c] {
                                        edgeClass.append(UInt8(c))
                                        next.append((UInt32(lo &+ counts[c]), UInt32(lo &+ counts[c &+ 1])))
                                    }
                                    for i in lo..<hi {
                                        let p = order[i]
                                        let c = Int(cls(p))
                                        sorted[lo &+ counts[c]] = p
                                        counts[c] &+= 1
                                    }
                                    for i in lo..<hi { order[i] = sorted[i] }
                                }
                                state &+= 1
                                precondition(state < Int(UInt32.max >> 1), "automaton too large")
                            }
                            swap(&level, &next)
                            depth &+= 1
                        }
                    }
                }
            }
        }
        edgeStart.append(UInt32(truncatingIfNeeded: edgeClass.count))
        self.edgeStart = edgeStart
        self.edgeClass = edgeClass
        patternEnd = ends
    }
}
