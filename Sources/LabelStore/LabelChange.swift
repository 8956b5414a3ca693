import ATProto

/// A request to change one label: apply it, or negate (retract) it. The writer turns accepted
/// changes into signed, sequenced rows; changes that would not change anything are dropped.
public struct LabelChange: Sendable, Hashable {
    public enum Action: String, Sendable, Hashable {
        case apply
        case negate
    }

    /// Who asked for the change: a rule, or a person (through the CLI or the admin endpoint).
    public enum Origin: Sendable, Hashable {
        case rule(id: String)
        case manual(actor: String)

        var kind: String {
            switch self {
            case .rule: "rule"
            case .manual: "manual"
            }
        }
    }

    public var action: Action
    /// The record or account the label is on.
    public var subject: LabelSubject
    public var cid: String?
    public var val: String
    public var exp: String?
    public var origin: Origin
    /// What the rule matched, for `labels explain`.
    public var field: String?
    public var snippet: String?
    public var reason: String?
    /// The report behind this change (`labeler reports resolve`, or a rule on reports), kept in
    /// the history.
    public var reportID: Int64?
    /// The seq of the stream event whose rules asked for this change (nil for people). A change
    /// from an event at or below the one that last changed the label is already reflected in it:
    /// that event is being handled again after a restart, and the change is dropped, so a
    /// replayed apply can never undo a later negation (or the reverse).
    public var eventSeq: Int64?
    /// The time budgets count the change at, in microseconds: the stream event's own time, so a
    /// replay trips a budget where the live run did (nil: the writer's clock, for people).
    public var eventTime: Int64?
    /// The asking rule's budget (`limits:` in its file), taken with the change so that a rule
    /// file reloaded meanwhile cannot mismatch it.
    public var budget: BudgetLimits?
    /// The change's row in the global budget's queue, when it comes from there.
    public var queueID: Int64?

    /// Whether it goes ahead of rules' changes in the global budget's queue: a person's change
    /// (by hand, from a report, a retraction) is never kept waiting behind a rule's burst.
    public var isPriority: Bool { if case .manual = origin { true } else { false } }

    public init(
        action: Action, subject: LabelSubject, cid: String? = nil, val: String, exp: String? = nil, origin: Origin,
        field: String? = nil, snippet: String? = nil, reason: String? = nil, reportID: Int64? = nil,
        eventSeq: Int64? = nil, eventTime: Int64? = nil, budget: BudgetLimits? = nil, queueID: Int64? = nil
    ) {
        self.eventTime = eventTime
        self.budget = budget
        self.queueID = queueID
        self.action = action
        self.subject = subject
        self.cid = cid
        self.val = val
        self.exp = exp
        self.origin = origin
        self.field = field
        self.snippet = snippet
        self.reason = reason
        self.reportID = reportID
        self.eventSeq = eventSeq
    }
}

/// A label as stored: the signed label and its stream position.
public struct StoredLabel: Sendable, Hashable {
    /// Position in `subscribeLabels`; strictly increasing, never reused.
    public var seq: Int64
    public var label: Label
    /// The signing key's row id.
    public var keyID: Int64
}

/// One entry of a label's history, for `labels explain`.
public struct LabelHistoryEntry: Sendable, Hashable {
    public var seq: Int64
    public var uri: String
    public var cid: String?
    public var val: String
    public var action: LabelChange.Action
    public var origin: String
    public var ruleID: String?
    public var actor: String?
    public var field: String?
    public var snippet: String?
    public var reason: String?
    /// The report the change resolved, when a person resolved one with it.
    public var reportID: Int64?
    public var time: String
}
