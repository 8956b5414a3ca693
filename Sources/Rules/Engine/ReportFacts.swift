/// What report rules read about a report besides its subject: the reason type and text, and the
/// reporter's standing when it was filed. A class, so that the stream's events, which never have
/// one, carry only a nil reference.
public final class ReportFacts: Sendable {
    /// The report's id in the store.
    public let id: Int64
    /// The full reason type (`com.atproto.moderation.defs#reasonSpam`).
    public let reasonType: String
    /// The reporter's text; empty when none was given.
    public let reason: String
    /// The reporter's DID.
    public let reporter: String
    /// Whether the reporter was muted when the report was filed.
    public let reporterMuted: Bool
    /// How many of the reporter's reports had been dismissed when this one was evaluated.
    public let reporterDismissed: Int

    public init(
        id: Int64, reasonType: String, reason: String, reporter: String, reporterMuted: Bool, reporterDismissed: Int
    ) {
        self.id = id
        self.reasonType = reasonType
        self.reason = reason
        self.reporter = reporter
        self.reporterMuted = reporterMuted
        self.reporterDismissed = reporterDismissed
    }
}
