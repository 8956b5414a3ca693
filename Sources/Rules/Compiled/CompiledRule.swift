import Matching

/// A rule ready to evaluate: its condition trees refer to matchers and rules by index.
struct CompiledRule: Sendable {
    let info: RuleInfo
    let condition: CompiledCondition
    let unless: CompiledCondition?
}

indirect enum CompiledCondition: Sendable {
    case any([CompiledCondition])
    case all([CompiledCondition])
    case not(CompiledCondition)
    /// Index into ``RuleSet/matchers``.
    case matcher(Int)
    /// Index into ``RuleSet/compiled`` of a rule evaluated earlier.
    case rule(Int)
    /// Primary language subtags, lowercased.
    case langs([String])
}

/// A keyword list or a group of regexes, with the fields it reads on each kind of record.
struct CompiledMatcher: Sendable {
    enum Kind: Sendable {
        /// Its keywords are in the rule set's ``KeywordSet``, tagged with this matcher's index.
        case keywords
        /// Indices into ``RuleSet/regexes``.
        case regexes([Int])
    }

    let kind: Kind
    /// The fields read, per ``RecordKind/slot``: `in:` (or the kind's default fields) limited to
    /// what that kind of record has.
    let fieldsBySlot: [FieldSet]
}

/// A compiled regex and whether its required literal is in the keyword automaton, so the regex
/// runs only on texts where the automaton saw that literal.
struct CompiledRegex: Sendable {
    let regex: PCRE2Regex
    let matcher: Int
    let prefiltered: Bool
}

/// What a keyword-automaton hit stands for.
enum ScanTag: Sendable, Hashable {
    /// A keyword of keyword matcher `matcher`.
    case keyword(matcher: Int32)
    /// The required literal of regex `regex`.
    case literal(regex: Int32)
}
