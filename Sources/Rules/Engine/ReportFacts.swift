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

extension RecordContext {
    /// A report, evaluated by the rules on `on: [report]`. `subject` is the reported account's DID
    /// or the reported record's `at://` URI (with `cid`, the version the reporter saw): a rule's
    /// label goes on that subject (`subject: account`: on the account it belongs to). `time` is
    /// when the report was filed, so evaluating it again gives the same expiry and windows.
    public static func report(_ facts: ReportFacts, subject: String, cid: String?, time: Int64) -> RecordContext {
        var did = subject
        var collection = ""
        var rkey = ""
        if subject.hasPrefix("at://") {
            let parts = subject.dropFirst(5).split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
            did = String(parts[0])
            if parts.count == 3 {
                collection = String(parts[1])
                rkey = String(parts[2])
            }
        }
        var context = RecordContext(
            did: did, collection: collection, rkey: rkey, action: .create, cid: cid, previousCID: cid, record: nil,
            time: time)
        context.report = facts
        return context
    }
}
