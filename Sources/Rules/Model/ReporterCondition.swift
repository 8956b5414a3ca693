/// `reporter: {muted: …, dismissed_at_most: N, dismissed_at_least: N}` in a report rule: the
/// standing of the account that filed the report.
///
/// A report rule whose conditions never say `muted` skips the reports of muted reporters: muting
/// someone is meant to take their reports out of everything, rules included. `muted: true` (only
/// their reports) or `muted: any` opts in.
public struct ReporterCondition: Hashable, Sendable {
    /// `true`: only muted reporters; `false`: only reporters not muted; `nil`: either.
    public var muted: Bool?
    /// Whether `muted` was written (`any` included), which lets the rule see muted reporters.
    public var mentionsMuted = false
    /// The most of the reporter's earlier reports (filed before this one) that may have been
    /// dismissed.
    public var dismissedAtMost: Int?
    /// The fewest of the reporter's earlier reports that must have been dismissed.
    public var dismissedAtLeast: Int?

    public init(
        muted: Bool? = nil, mentionsMuted: Bool = false, dismissedAtMost: Int? = nil, dismissedAtLeast: Int? = nil
    ) {
        self.muted = muted
        self.mentionsMuted = mentionsMuted
        self.dismissedAtMost = dismissedAtMost
        self.dismissedAtLeast = dismissedAtLeast
    }

    /// The keys the mapping may have.
    static let keys = ["muted", "dismissed_at_most", "dismissed_at_least"]

    /// Whether a reporter with this standing satisfies the condition.
    func holds(for report: ReportFacts) -> Bool {
        if let muted, muted != report.reporterMuted { return false }
        if let dismissedAtMost, report.reporterDismissed > dismissedAtMost { return false }
        if let dismissedAtLeast, report.reporterDismissed < dismissedAtLeast { return false }
        return true
    }
}
