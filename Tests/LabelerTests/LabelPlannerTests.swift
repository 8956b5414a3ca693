import ATProto
import LabelStore
import Testing

/// The label policy, without a database: what the planner decides for each kind of change.
@Suite struct LabelPlannerTests {
    let src = "did:plc:labeler"
    let now = try! Datetime("2026-01-01T00:00:10.000Z")
    let subject = try! LabelSubject("at://did:plc:a/app.bsky.feed.post/1")

    func apply(_ val: String = "spam", rule: String? = "r1", exp: String? = nil, event: Int64? = nil) -> LabelChange {
        LabelChange(
            action: .apply, subject: subject, val: val, exp: exp,
            origin: rule.map { .rule(id: $0) } ?? .manual(actor: "mod"), eventSeq: event)
    }

    func negate(_ val: String = "spam", rule: String? = "r1", event: Int64? = nil) -> LabelChange {
        LabelChange(
            action: .negate, subject: subject, val: val,
            origin: rule.map { .rule(id: $0) } ?? .manual(actor: "mod"), eventSeq: event)
    }

    func row(
        negated: Bool = false, cts: String = "2026-01-01T00:00:00.000Z", exp: String? = nil, locked: Bool = false,
        event: Int64? = nil
    )
        -> [LabelKey: CurrentLabel]
    {
        [
            LabelKey(subject: subject, cid: nil, val: "spam"): CurrentLabel(
                seq: 7, negated: negated, cts: cts, exp: exp, locked: locked,
                event: event.map { EventPosition(source: "relay a", seq: $0) })
        ]
    }

    func plan(_ changes: [LabelChange], _ current: [LabelKey: CurrentLabel] = [:]) -> [LabelStep] {
        LabelPlanner.plan(changes, current: current, src: src, now: now, eventSource: "relay a")
    }

    @Test func applyingWritesOnceAndAnExpiryChangeWritesAgain() {
        let first = plan([apply()])
        #expect(first.map(\.writes) == [true])
        #expect(
            first[0].label
                == Label(src: src, uri: "at://did:plc:a/app.bsky.feed.post/1", val: "spam", cts: now.rawValue))
        #expect(plan([apply()], row()).map(\.writes) == [false])
        let renewed = plan([apply(exp: "2026-02-01T00:00:00.000Z")], row())
        #expect(renewed[0].label?.exp == "2026-02-01T00:00:00.000Z")
        // Within one batch, the second apply sees the first.
        #expect(plan([apply(), apply()]).map(\.writes) == [true, false])
    }

    @Test func negatingWritesOnlyWhatIsApplied() {
        #expect(plan([negate()]).map(\.writes) == [false])
        #expect(plan([negate()], row(negated: true)).map(\.writes) == [false])
        let retracted = plan([negate()], row())
        #expect(retracted[0].label?.neg == true && retracted[0].label?.exp == nil)
    }

    @Test func aPersonsNegationLocksTheLabelAgainstRules() {
        // Applied: the negation goes on the wire, locked.
        let negated = plan([negate(rule: nil)], row())
        #expect(negated[0].label?.neg == true && negated[0].locked)
        // Not applied: nothing on the wire, the row is only locked.
        let lockOnly = plan([negate(rule: nil)], row(negated: true))
        #expect(lockOnly[0].label == nil && lockOnly[0].lockOnlySeq == 7)
        // Locked: a rule cannot apply it; a person can, and that unlocks it.
        #expect(plan([apply()], row(negated: true, locked: true)).map(\.writes) == [false])
        let unlocked = plan([apply(rule: nil)], row(negated: true, locked: true))
        #expect(unlocked[0].label?.neg == nil && unlocked[0].locked == false)
        // A rule's negation in the same batch has no row yet: the person's is written again, locked.
        let sameBatch = plan([negate(), negate(rule: nil), apply()], row())
        #expect(sameBatch.map(\.writes) == [true, true, false])
        #expect(sameBatch[1].locked)
    }

    @Test func eventsHandledAgainChangeNothing() {
        #expect(plan([negate(event: 20)], row(event: 20)).map(\.writes) == [false])
        #expect(plan([apply(event: 10)], row(negated: true, event: 20)).map(\.writes) == [false])
        let later = plan([negate(event: 21)], row(event: 20))
        #expect(later[0].writes && later[0].event == EventPosition(source: "relay a", seq: 21))
        // Another stream's seqs are not comparable: the change applies.
        let other = LabelPlanner.plan(
            [negate(event: 5)], current: row(event: 20), src: src, now: now, eventSource: "jetstream b")
        #expect(other.map(\.writes) == [true])
        // A person's change keeps the row's last event, so a replay still recognises it.
        #expect(
            plan([apply(rule: nil)], row(negated: true, event: 20))[0].event
                == EventPosition(source: "relay a", seq: 20))
    }

    @Test func ctsNeverGoesBackwards() {
        let ahead = plan([negate()], row(cts: "2026-01-01T00:01:00.000Z"))
        #expect(ahead[0].label?.cts == "2026-01-01T00:01:00.001Z")
        let behind = plan([negate()], row(cts: "2025-12-31T00:00:00.000Z"))
        #expect(behind[0].label?.cts == now.rawValue)
    }
}
