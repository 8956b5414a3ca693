import ATProto
import Matching

/// The mutable working memory of rule evaluation: PCRE2 match data, the keyword normaliser's
/// buffers, and per-event tables sized for the rule set in use. Not `Sendable`: each worker task
/// owns one and passes it to every ``RuleSet/evaluate(_:counts:using:)`` call, so any number of
/// workers can evaluate one shared ``RuleSet`` at once.
///
/// Tables are stamped with an event counter instead of being cleared, so an event costs only
/// for the rules, matchers and fields it touches. When a different rule set is passed (after a
/// reload) the tables are resized on the next event.
public final class RuleScratch {
    let matching: MatchScratch
    let normalizer = TextNormalizer()

    /// The serial number of the rule set the tables are sized for. Not a reference: an idle
    /// worker must not keep a replaced set (and its lists) alive after a reload.
    private var setSerial: UInt64 = 0
    /// The current event's stamp.
    @exclusivity(unchecked) private(set) var epoch: UInt64 = 0

    // Per rule: whether it fired on the current event (its stamp is the event's), and why.
    @exclusivity(unchecked) var ruleEpoch = Stamps()
    /// Rules whose gate opened on the current event, as a bit set over rule indices.
    @exclusivity(unchecked) var opened = Stamps()
    @exclusivity(unchecked) var ruleEvidence: [MatchEvidence?] = []
    /// The first matched text of the rule being evaluated, valid while `hasEvidence`.
    @exclusivity(unchecked) var evidence: MatchEvidence?
    @exclusivity(unchecked) var hasEvidence = false

    // Per keyword matcher: its first hit on the current event.
    @exclusivity(unchecked) var keywordEpoch = Stamps()
    @exclusivity(unchecked) var keywordHit: [KeywordHitRecord] = []

    // Per regex: the field values where the automaton saw its literal, as a linked list in
    // `literalNodes` starting at `literalHead`.
    @exclusivity(unchecked) var literalEpoch = Stamps()
    @exclusivity(unchecked) var literalHead: [Int32] = []
    @exclusivity(unchecked) var literalNodes: [LiteralNode] = []

    // Per field: its values on the current event, and whether the automaton has scanned them.
    @exclusivity(unchecked) var fieldEpoch = [UInt64](repeating: 0, count: Field.allCases.count)
    @exclusivity(unchecked) var fieldValues = [[String]](repeating: [], count: Field.allCases.count)
    @exclusivity(unchecked) var scannedEpoch = [UInt64](repeating: 0, count: Field.allCases.count)
    @exclusivity(unchecked) var post: PostView?

    /// - Parameter jitStackSize: see ``MatchScratch/init(jitStackSize:)``.
    public init(jitStackSize: Int = MatchScratch.defaultJITStackSize) {
        matching = MatchScratch(jitStackSize: jitStackSize)
    }

    deinit {
        ruleEpoch.free()
        opened.free()
        keywordEpoch.free()
        literalEpoch.free()
    }

    /// Starts an event on `set`.
    func begin(_ set: RuleSet) {
        if set.serial != setSerial {
            setSerial = set.serial
            let rules = set.rules.count
            let matchers = set.tables.matcherRegexStart.count
            let regexes = set.tables.regexes.count
            ruleEpoch.resize(rules)
            opened.resize(set.ruleMasks.words)
            ruleEvidence = Array(repeating: nil, count: rules)
            keywordEpoch.resize(matchers)
            keywordHit = Array(repeating: KeywordHitRecord(), count: matchers)
            literalEpoch.resize(regexes)
            literalHead = Array(repeating: -1, count: regexes)
        }
        epoch &+= 1
        opened.clear()
        literalNodes.removeAll(keepingCapacity: true)
        post = nil
    }
}

/// A fixed-size table of event stamps or bits, written on every event without copy-on-write
/// checks.
struct Stamps {
    private var storage = UnsafeMutableBufferPointer<UInt64>(start: nil, count: 0)

    mutating func resize(_ count: Int) {
        free()
        storage = .allocate(capacity: count)
        storage.initialize(repeating: 0)
    }

    func free() { storage.deallocate() }

    func clear() {
        guard let base = storage.baseAddress else { return }
        base.update(repeating: 0, count: storage.count)
    }

    subscript(index: Int) -> UInt64 {
        get { storage[index] }
        nonmutating set { storage[index] = newValue }
    }
}

@available(*, unavailable)
extension RuleScratch: Sendable {}

/// A keyword hit kept for evidence.
struct KeywordHitRecord {
    var field: Field = .text
    var valueIndex: Int32 = 0
    var start: Int32 = 0
    var end: Int32 = 0
    var keyword: String = ""
}

/// One field value where a regex's literal occurs.
struct LiteralNode {
    var field: Field
    var valueIndex: Int32
    var next: Int32
}
