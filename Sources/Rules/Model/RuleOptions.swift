/// Who a rule's label is about.
public enum LabelSubjectKind: String, Sendable, Hashable {
    /// The record (its `at://` URI, with the record's CID).
    case record
    /// The account (its DID).
    case account
}

/// Whether a rule emits labels or only reports what it would emit.
public enum RuleMode: String, Sendable, Hashable {
    /// Labels are applied (and negated, with `on_no_match: negate`).
    case label
    /// Dry run: hits are reported as ``Effects/dryRun`` and never emitted.
    case log
}

/// `threshold: {count: N, within: 24h}`: the rule fires for an account once its condition held on
/// `count` records of that account within the window, this one included.
public struct Threshold: Hashable, Sendable {
    public var count: Int
    public var within: RuleDuration

    public init(count: Int, within: RuleDuration) {
        self.count = count
        self.within = within
    }
}
