/// A rule as read from its file, before compilation: every value carries the place it was written,
/// so the compiler can report problems that span rules (duplicate ids, unknown or cyclic `rule:`
/// references) at the right spot.
struct RuleDefinition {
    var id: String
    var idLocation: SourceLocation
    var description: String?
    var kinds: [RecordKind]
    var match: ConditionDefinition
    var unless: ConditionDefinition?
    var label: String?
    /// Where the label value is written.
    var labelLocation: SourceLocation?
    var subject: LabelSubjectKind
    var expiresIn: RuleDuration?
    var mode: RuleMode
    var negateOnNoMatch: Bool
    var threshold: Threshold?
    var limits: RuleLimits?
    /// `rollout:`; `nil` for every account.
    var rollout: Rollout? = nil
    /// `min_precision` and `min_recall`.
    var minimums = QualityMinimums()
    /// Report rules: `negate: VALUE` (the label is negated, not applied) and `escalate: true`.
    var negatesLabel = false
    var escalates = false
    /// The directory of the file the rule is in, for resolving list files.
    var directory: String
}

/// A condition tree as written (`any`, `all`, `not`, or one matcher).
indirect enum ConditionDefinition {
    case any([ConditionDefinition])
    case all([ConditionDefinition])
    case not(ConditionDefinition)
    case matcher(MatcherDefinition)
    /// `rule: other-id`, with where the id was written.
    case rule(String, SourceLocation)
    /// `langs: [en, pt]`: primary language subtags, lowercased.
    case langs([String])
    /// `reason_types: [spam, …]` (report rules): the full reason types it names.
    case reasonTypes(Set<String>)
    /// `reporter: {…}` (report rules).
    case reporter(ReporterCondition)
}

/// A regex or keyword matcher as written.
struct MatcherDefinition {
    enum Source {
        /// Patterns (one inline, or one per line of a file), each with its place.
        case regexes([PatternEntry], caseInsensitive: Bool)
        case keywords([PatternEntry], options: KeywordMatcherOptions)
    }

    var source: Source
    /// `in:` fields; `nil` when omitted (each record kind's default fields).
    var fields: [Field]?
    var location: SourceLocation
}

/// One regex or keyword with the position of its first character and, for error positions inside
/// it, a map from scalar offsets to file positions.
struct PatternEntry {
    var text: String
    var location: SourceLocation
    /// For a value written in a rule file, where each of its scalars was written (quotes and
    /// escapes make that differ from `location` plus the offset); `nil` for a list file line.
    var scalarMap: ScalarSourceMap?

    /// The position of the entry's `offset`-th Unicode scalar.
    func position(_ offset: Int) -> SourceLocation {
        if let scalarMap { return scalarMap.location(ofScalar: offset) }
        return SourceLocation(file: location.file, line: location.line, column: location.column + offset)
    }
}

/// `mode`, `leet` and `squeeze` of a keyword matcher.
struct KeywordMatcherOptions: Hashable {
    var substring = false
    var leet = false
    var squeeze = false
}
