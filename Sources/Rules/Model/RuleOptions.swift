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

/// `limits: {per_minute: N, per_hour: N, per_day: N}`: the most labels the rule may apply in
/// each whole UTC minute, hour or day of event time. Past one, the rule trips: its labels are
/// withheld until a person resets it (`labeler rules reset ID`).
public struct RuleLimits: Hashable, Sendable {
    public var perMinute: Int?
    public var perHour: Int?
    public var perDay: Int?

    public init(perMinute: Int? = nil, perHour: Int? = nil, perDay: Int? = nil) {
        self.perMinute = perMinute
        self.perHour = perHour
        self.perDay = perDay
    }

    /// The keys a rule file may set, in order.
    public static let keys = ["per_minute", "per_hour", "per_day"]
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
