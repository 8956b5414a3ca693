/// What a loaded rule is, as written in its file (for listing, explaining and logging).
public struct RuleInfo: Hashable, Sendable {
    public let id: String
    public let description: String?
    /// Record kinds (`on:`).
    public let kinds: [RecordKind]
    /// The label value emitted; `nil` for a rule that only serves as a `rule:` building block.
    public let label: String?
    public let subject: LabelSubjectKind
    public let expiresIn: RuleDuration?
    public let mode: RuleMode
    /// `on_no_match: negate`.
    public let negateOnNoMatch: Bool
    public let threshold: Threshold?
    /// `limits:`, the rule's budget.
    public let limits: RuleLimits?
    /// `rollout:`: the share of accounts the rule labels for; the others get dry runs. `nil`:
    /// every account.
    public let rollout: Rollout?
    /// `min_precision` and `min_recall`, which `labeler rules test` enforces on labeled samples.
    public let minimums: QualityMinimums
    /// Where the rule's id is written.
    public let location: SourceLocation
    /// A report rule's `negate: VALUE`: ``label`` is negated on the subject, not applied.
    public let negatesLabel: Bool
    /// A report rule's `escalate: true`: the reports that made it fire are escalated.
    public let escalates: Bool
    /// Whether a report rule sees the reports of muted reporters (its conditions say `muted`).
    public let seesMutedReporters: Bool
}
