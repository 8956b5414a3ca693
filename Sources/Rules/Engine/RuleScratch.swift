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

    /// The rule set the tables are sized for.
    private var setID: ObjectIdentifier?
    /// The current event's stamp.
    private(set) var epoch: UInt64 = 0

    // Per rule: whether it fired on the current event, and why.
    var ruleEpoch: [UInt64] = []
    var ruleFired: [Bool] = []
    var ruleEvidence: [MatchEvidence?] = []

    // Per keyword matcher: its first hit on the current event.
    var keywordEpoch: [UInt64] = []
    var keywordHit: [KeywordHitRecord] = []

    // Per regex: the field values where the automaton saw its literal, as a linked list in
    // `literalNodes` starting at `literalHead`.
    var literalEpoch: [UInt64] = []
    var literalHead: [Int32] = []
    var literalNodes: [LiteralNode] = []

    // Per field: its values on the current event, and whether the automaton has scanned them.
    var fieldEpoch = [UInt64](repeating: 0, count: Field.allCases.count)
    var fieldValues = [[String]](repeating: [], count: Field.allCases.count)
    var scannedEpoch = [UInt64](repeating: 0, count: Field.allCases.count)
    var post: PostView?

    /// - Parameter jitStackSize: see ``MatchScratch/init(jitStackSize:)``.
    public init(jitStackSize: Int = MatchScratch.defaultJITStackSize) {
        matching = MatchScratch(jitStackSize: jitStackSize)
    }

    /// Starts an event on `set`.
    func begin(_ set: RuleSet) {
        let id = ObjectIdentifier(set)
        if id != setID {
            setID = id
            ruleEpoch = Array(repeating: 0, count: set.compiled.count)
            ruleFired = Array(repeating: false, count: set.compiled.count)
            ruleEvidence = Array(repeating: nil, count: set.compiled.count)
            keywordEpoch = Array(repeating: 0, count: set.matchers.count)
            keywordHit = Array(repeating: KeywordHitRecord(), count: set.matchers.count)
            literalEpoch = Array(repeating: 0, count: set.regexes.count)
            literalHead = Array(repeating: -1, count: set.regexes.count)
        }
        epoch &+= 1
        literalNodes.removeAll(keepingCapacity: true)
        post = nil
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
