import Matching

/// The condition trees of all rules, flattened into one array of plain nodes so that evaluating
/// them copies and reference-counts nothing.
struct ConditionNode: Sendable {
    enum Op: UInt8, Sendable {
        /// Children `children[first ..< first + count]`.
        case any, all
        /// Child node `first`.
        case not
        /// Matcher `first`.
        case keywords, regexes
        /// Rule `first` (its index in evaluation order, always earlier than the referencing rule).
        case rule
        /// Language codes `languageCodes[first]`.
        case langs
        /// Report rules: reason types `reasonTypeSets[first]`; reporter condition `reporterConditions[first]`.
        case reasonTypes, reporter
    }

    let op: Op
    let first: Int32
    let count: Int32
}

/// Where a rule's conditions start, and what must have happened for its condition to hold.
struct RulePlan: Sendable {
    /// Root node of `match`.
    let condition: Int32
    /// Root node of `unless`, or -1.
    let unless: Int32
    /// The rule's gate, `gateItems[gateStart ..< gateStart + gateCount]`, or `gateCount == -1`
    /// when there is none (see ``GateItem``).
    let gateStart: Int32
    let gateCount: Int32
}

/// Something that must have happened on an event for a rule's condition to be able to hold: the
/// keyword automaton hit a keyword of a matcher or the literal of a regex, or a referenced rule
/// fired. A rule whose condition needs at least one of its gate items (a condition made of
/// keywords, regexes with literals and rule references, combined without `not`) is skipped
/// without evaluating anything when none happened, which is what keeps the cost per event nearly
/// independent of the number of rules.
struct GateItem: Sendable, Hashable {
    enum Kind: UInt8, Sendable { case keywords, literal, rule }
    let kind: Kind
    let index: Int32
}

/// What a keyword-automaton hit stands for.
enum ScanTag: Sendable, Hashable {
    /// A keyword of keyword matcher `matcher`.
    case keyword(matcher: Int32)
    /// The required literal of regex `regex`.
    case literal(regex: Int32)
}

/// The compiled rules of a set in flat tables (see ``RuleSet``).
struct CompiledTables: Sendable {
    var plans: [RulePlan] = []
    var gateItems: [GateItem] = []
    /// Per rule and ``RecordKind/slot`` (`rule * slotCount + slot`): the fields whose values the
    /// keyword automaton must scan for the rule's keywords and regex literals.
    var scanFields: [FieldSet] = []
    /// Per rule: `on_no_match: negate` (read on every event, so kept apart from ``RuleInfo``).
    var negateOnNoMatch: [Bool] = []
    var nodes: [ConditionNode] = []
    var children: [Int32] = []
    var languageCodes: [[String]] = []
    var reasonTypeSets: [Set<String>] = []
    var reporterConditions: [ReporterCondition] = []
    /// Per matcher and ``RecordKind/slot`` (`matcher * slotCount + slot`): the fields it reads
    /// there, `in:` (or the kind's default fields) limited to what that kind of record has.
    var matcherFields: [FieldSet] = []
    /// Per regex matcher: its regexes, `regexes[start ..< start + count]` (keyword matchers: 0, 0).
    var matcherRegexStart: [Int32] = []
    var matcherRegexCount: [Int32] = []
    var regexes: [PCRE2Regex] = []
    /// Per regex: whether its required literal is in the keyword automaton, so the regex runs only
    /// on values where the automaton saw it.
    var regexPrefiltered: [Bool] = []
    var regexMatcher: [Int32] = []
    /// Entries of the keyword automaton that are regex literals rather than keywords.
    var literalEntries = 0

    func fields(ofMatcher matcher: Int, slot: Int) -> FieldSet {
        matcherFields[matcher &* RecordKind.slotCount &+ slot]
    }
}
