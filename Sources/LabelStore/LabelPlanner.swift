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

    /// Whether the step changes anything in the store.
    public var writes: Bool { label != nil || lockOnlySeq != nil }
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
}
