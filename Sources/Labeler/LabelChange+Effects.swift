import LabelStore
import Rules

extension LabelChange {
    /// The change a rule asks for, with what it matched (for `labels explain`).
    public init(_ effect: LabelEffect) {
        self.init(
            action: effect.negate ? .negate : .apply, subject: effect.subject, cid: effect.cid,
            val: effect.value,
            exp: effect.expires, origin: .rule(id: effect.ruleID), field: effect.evidence.map { "\($0.field)" },
            snippet: effect.evidence?.text, budget: effect.limits.map(BudgetLimits.init))
    }
}

extension BudgetLimits {
    /// A rule's `limits:`.
    public init(_ limits: RuleLimits) {
        var windows: [BudgetWindow: Int] = [:]
        windows[.minute] = limits.perMinute
        windows[.hour] = limits.perHour
        windows[.day] = limits.perDay
        self.init(windows)
    }
}

extension Effects {
    /// Every label change these effects ask for (dry-run hits are not changes).
    public var labelChanges: [LabelChange] { (labels + negations).map(LabelChange.init) }
}
