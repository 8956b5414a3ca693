import ATProto

/// One label of one labeler: the subject (and `cid` when the label is on one version of a
/// record) and the value. The store keeps one current row per key; "no cid" is stored as "".
public struct LabelKey: Hashable, Sendable, CustomStringConvertible {
    public var subject: LabelSubject
    /// The record version, or "" for a label on every version (or on an account).
    public var cid: String
    public var val: String

    public init(subject: LabelSubject, cid: String?, val: String) {
        self.subject = subject
        self.cid = cid ?? ""
        self.val = val
    }

    public init(_ change: LabelChange) { self.init(subject: change.subject, cid: change.cid, val: change.val) }

    public var description: String { cid.isEmpty ? "\(subject) \(val)" : "\(subject) \(cid) \(val)" }
}

/// The stream event behind a label's latest change: the stream's name (the cursor's) and the
/// event's seq in it.
public struct EventPosition: Hashable, Sendable {
    public var source: CursorName
    public var seq: Int64

    public init(source: CursorName, seq: Int64) {
        self.source = source
        self.seq = seq
    }
}

/// What the store holds for one label key now, as far as planning needs it.
public struct CurrentLabel: Hashable, Sendable {
    /// The row's seq; nil for a key planned in this batch but not stored yet.
    public var seq: Int64?
    public var negated: Bool
    public var cts: String
    public var exp: String?
    /// A person negated it: rules may not apply it again.
    public var locked: Bool
    public var event: EventPosition?

    public init(seq: Int64?, negated: Bool, cts: String, exp: String?, locked: Bool, event: EventPosition?) {
        self.seq = seq
        self.negated = negated
        self.cts = cts
        self.exp = exp
        self.locked = locked
        self.event = event
    }
}

/// What one requested change does: write a new row for its label (`label`, unsigned until the
/// writer signs it), or only lock the existing row, or nothing.
public struct LabelStep: Sendable {
    public let change: LabelChange
    /// The label to store under a fresh seq (its `sig` is set by the writer before the commit).
    public var label: Label?
    /// The new row's lock (a person's negation locks the label against rules).
    public var locked = false
    /// The seq of a row that only gets locked: a person negated a label that is not applied, so
    /// nothing goes on the wire but rules may no longer apply it.
    public var lockOnlySeq: Int64?
    /// The stream event recorded with the new row.
    public var event: EventPosition?

    /// A rule's application held back by its budget (the rule is tripped): nothing is written.
    public var withheld = false
    /// A label the global budget has no room for now: it waits in the queue (its change is
    /// stored there) and goes out when there is room.
    public var queued = false

    /// Whether the step changes anything in the store.
    public var writes: Bool { label != nil || lockOnlySeq != nil || queued }
}

/// The label policy, as a pure function: given what the store holds and the changes asked for,
/// in order, what to write. No database, no clock, no key: the writer reads the rows, plans,
/// signs and commits.
///
/// - A change that changes nothing is dropped: applying a label that is applied (same value,
///   same expiry), negating one that is not applied.
/// - A rule never re-applies a label a person negated (the row is locked); a person's apply
///   unlocks it.
/// - A change from a stream event at or below the event that last changed the label, in the same
///   stream, is dropped: that event is being handled again after a restart and its change is in
///   the row already, so a replayed apply can never undo a later negation (or the reverse).
/// - `cts` never goes backwards for one key: a change stamped at or before the stored row is
///   stamped one millisecond after it.
/// - Each change sees the changes before it in the same batch.
public enum LabelPlanner {
    /// - Parameters:
    ///   - changes: the requested changes, in order.
    ///   - current: the stored state of (at least) every key the changes touch; absent keys have
    ///     no row.
    ///   - src: the labeler's DID, the labels' `src`.
    ///   - now: the time to stamp as `cts`.
    ///   - eventSource: the stream the changes' `eventSeq`s belong to (the cursor's name).
    public static func plan(
        _ changes: [LabelChange], current: [LabelKey: CurrentLabel], src: String, now: Datetime,
        eventSource: CursorName?
    ) -> [LabelStep] {
        var budgets = BudgetLedger()
        var queuedKeys: [LabelKey: Int64] = [:]
        return plan(
            changes, current: current, src: src, now: now, eventSource: eventSource, budgets: &budgets,
            queuedKeys: &queuedKeys)
    }

    /// The same, under budgets:
    ///
    /// - A rule's application that would change a label is counted in its rule's budget at the
    ///   change's `eventTime`; once a window is full the rule trips and its applications are
    ///   withheld (`LabelStep.withheld`), see ``BudgetLedger``. A change from the queue was
    ///   counted when it was queued.
    /// - With `global` limits, every label that would go on the wire is counted at `now`; one the
    ///   budget has no room for is queued (`LabelStep.queued`), and so is every later change of a
    ///   key with changes queued, so a label's changes go out in the order they were made.
    /// - A change from a stream event at or below the newest event queued for its label is in
    ///   the queue already (the event is handled again after a restart): it is dropped, as one
    ///   reflected in the label's row is.
    ///
    /// - Parameters:
    ///   - budgets: the counts and trips (as stored, plus the batches planned before); planning
    ///     counts into it.
    ///   - queueFirst: older changes wait in the queue (beyond those of this batch): every new
    ///     change that would go on the wire queues behind them.
    ///   - queuedKeys: the keys with changes waiting in the queue (not counting the changes of
    ///     this batch that come from it), each with the newest stream event queued for it
    ///     (`Int64.min` for none); planning adds what it queues.
    public static func plan(
        _ changes: [LabelChange], current: [LabelKey: CurrentLabel], src: String, now: Datetime,
        eventSource: CursorName?, budgets: inout BudgetLedger, global: BudgetLimits? = nil, queueFirst: Bool = false,
        queuedKeys: inout [LabelKey: Int64]
    ) -> [LabelStep] {
        var state = current
        var steps: [LabelStep] = []
        steps.reserveCapacity(changes.count)
        let nowText = now.rawValue
        for change in changes {
            let key = LabelKey(change)
            let stored = state[key]
            var step = LabelStep(change: change)
            defer { steps.append(step) }
            if let seq = change.eventSeq, let last = stored?.event, last.source == eventSource, seq <= last.seq {
                continue
            }
            if let seq = change.eventSeq, change.queueID == nil, let queued = queuedKeys[key], seq <= queued {
                continue
            }
            // Changes of this label wait in the queue: what this one does depends on them, so it
            // waits behind them and is planned when it comes out (a rule's application is still
            // held to its rule's budget now).
            if change.queueID == nil, queuedKeys[key] != nil {
                if withholdIfTripped(&step, key: key, budgets: &budgets, now: now) { continue }
                step.queued = true
                queuedKeys[key] = max(queuedKeys[key] ?? .min, change.eventSeq ?? .min)
                continue
            }
            switch change.action {
            case .apply:
                if case .rule = change.origin, stored?.locked == true { continue }
                if let stored, !stored.negated, stored.exp == change.exp { continue }
            case .negate:
                if let stored, stored.negated {
                    // Not applied: nothing to retract. A person's negation still locks it against
                    // rules, without a new stream entry (the label on the wire does not change).
                    // A negation planned earlier in this batch has no row yet: it is written
                    // again, locked (the same transaction replaces the earlier one).
                    guard case .manual = change.origin, !stored.locked else { continue }
                    if let seq = stored.seq {
                        step.lockOnlySeq = seq
                        state[key]?.locked = true
                        continue
                    }
                } else if stored == nil {
                    continue
                }
            }
            if change.queueID == nil, withholdIfTripped(&step, key: key, budgets: &budgets, now: now) { continue }
            if let global, !global.isEmpty {
                let waiting = change.queueID == nil && queueFirst
                if waiting || !budgets.admitGlobal(limits: global, at: now.unixMicros) {
                    step.queued = true
                    queuedKeys[key] = max(queuedKeys[key] ?? .min, change.eventSeq ?? .min)
                    continue
                }
            }
            // Compared as instants, not as text: a row written by another tool may spell its
            // time differently (no milliseconds, an offset instead of Z).
            var cts = nowText
            if let text = stored?.cts, let previous = try? Datetime(text), previous.unixMicros >= now.unixMicros {
                cts = Datetime(unixMicros: previous.unixMicros + 1000).rawValue
            }
            let label = Label(
                src: src, uri: change.subject.rawValue, cid: change.cid, val: change.val,
                neg: change.action == .negate ? true : nil,
                cts: cts, exp: change.action == .apply ? change.exp : nil)
            step.label = label
            switch change.origin {
            case .manual: step.locked = change.action == .negate
            case .rule: step.locked = stored?.locked ?? false
            }
            // A person's change keeps the row's last event, so replayed events stay recognised.
            if let seq = change.eventSeq, let eventSource {
                step.event = EventPosition(source: eventSource, seq: seq)
            } else {
                step.event = stored?.event
            }
            state[key] = CurrentLabel(
                seq: nil, negated: change.action == .negate, cts: cts, exp: label.exp, locked: step.locked,
                event: step.event)
        }
        return steps
    }

    /// Holds a rule's application to its rule's budget: counts it at the change's `eventTime`
    /// (else `now`), and marks `step` withheld when the rule is or becomes tripped. Negations and
    /// people's changes are never withheld. Returns whether the step was withheld.
    private static func withholdIfTripped(
        _ step: inout LabelStep, key: LabelKey, budgets: inout BudgetLedger, now: Datetime
    ) -> Bool {
        let change = step.change
        guard case .rule(let rule) = change.origin, change.action == .apply else { return false }
        let admitted = budgets.admit(
            rule: rule, limits: change.budget, at: change.eventTime ?? now.unixMicros, trippedAt: now.rawValue,
            label: "\(key)")
        if !admitted { step.withheld = true }
        return !admitted
    }
}
