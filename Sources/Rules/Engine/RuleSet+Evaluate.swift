import ATProto
import Matching

extension RuleSet {
    /// Runs the rules that apply to `context` and returns what they decided. Pure: reads only its
    /// arguments, writes only `scratch`.
    ///
    /// - Creates and updates: a rule fires when its `match` holds, its `unless` does not, and its
    ///   threshold (counting this event) is reached. Firing applies its label (or reports it as a
    ///   dry run in `mode: log`, and for accounts outside its `rollout`); an update or identity event on which a rule with
    ///   `on_no_match: negate` does not match negates its label.
    /// - Deletes: every applicable rule with `on_no_match: negate` negates its label.
    /// - A create or update without a decoded record has nothing to read and gives no effects.
    /// - A rule whose regex gives up (match limit) is reported in ``Effects/failures`` and neither
    ///   fires nor negates; the other rules run as usual.
    ///
    /// - Parameters:
    ///   - counts: earlier matches of threshold rules, per account.
    ///   - scratch: the calling worker's own scratch.
    public func evaluate(
        _ context: RecordContext, counts: some ThresholdCounts = NoThresholdCounts(), using scratch: RuleScratch
    ) -> Effects {
        var effects = Effects()
        let slot = context.slot
        guard !rulesBySlot[slot].isEmpty else { return effects }
        scratch.begin(self)
        let evaluation = Evaluation(set: self, tables: tables, context: context, slot: slot, scratch: scratch)

        if context.action == .delete {
            for index in rulesBySlot[slot] where slot != RecordKind.collection("*").slot || applies(index, to: context)
            {
                if tables.negateOnNoMatch[index] { evaluation.negate(rules[index], into: &effects) }
            }
            return effects
        }
        guard context.record != nil || context.isIdentity || context.report != nil else { return effects }

        // One automaton pass over every field some rule looks for keywords or literals in.
        var fields = scanFieldsBySlot[slot]
        while let field = fields.popFirst() { evaluation.scan(field) }

        // Visit, in evaluation order, the rules of this kind whose gate is open or that have no
        // gate, and on updates the rules that may negate.
        let masks = ruleMasks
        let negating = context.action == .update
        for word in 0..<masks.words {
            var from = 0
            while true {
                let base = masks.ungated[word] | scratch.opened[word] | (negating ? masks.negating[word] : 0)
                let candidates = base & masks.slots[slot * masks.words + word] & (UInt64.max << from)
                if candidates == 0 { break }
                let bit = candidates.trailingZeroBitCount
                from = bit + 1
                let index = word << 6 | bit
                if slot == RecordKind.collection("*").slot, !applies(index, to: context) { continue }
                evaluateRule(index, context: context, counts: counts, evaluation: evaluation, into: &effects)
            }
        }
        return effects
    }

    private func evaluateRule(
        _ index: Int, context: RecordContext, counts: some ThresholdCounts, evaluation: Evaluation,
        into effects: inout Effects
    ) {
        let scratch = evaluation.scratch
        let plan = tables.plans[index]
        if let report = context.report, report.reporterMuted, !rules[index].seesMutedReporters { return }
        var matched = false
        scratch.hasEvidence = false
        do {
            if plan.gateCount < 0 || scratch.isOpened(index) { matched = try evaluation.holds(plan.condition) }
            if matched, plan.unless >= 0 {
                let hadEvidence = scratch.hasEvidence
                scratch.hasEvidence = true  // keep the match's evidence
                matched = try !evaluation.holds(plan.unless)
                scratch.hasEvidence = hadEvidence
            }
        } catch {
            effects.failures.append(
                RuleFailure(
                    ruleID: rules[index].id, uri: context.uri, pattern: error.pattern, reason: error.reason.description)
            )
            return
        }
        guard matched else {
            if tables.negateOnNoMatch[index], context.action == .update {
                evaluation.negate(rules[index], into: &effects)
            }
            return
        }
        fire(
            index, scratch.hasEvidence ? scratch.evidence : nil, context: context, counts: counts,
            evaluation: evaluation, into: &effects)
    }

    /// A rule whose condition held: counts it toward its threshold, and when it fires, records
    /// that for `rule:` references and emits its label.
    private func fire(
        _ index: Int, _ evidence: MatchEvidence?, context: RecordContext, counts: some ThresholdCounts,
        evaluation: Evaluation, into effects: inout Effects
    ) {
        let info = rules[index]
        if let threshold = info.threshold {
            let window = threshold.within.microseconds
            effects.counterBumps.append(
                CounterBump(ruleID: info.id, did: context.did, time: context.time, window: window))
            let earlier = counts.count(ruleID: info.id, did: context.did, since: context.time - window)
            guard earlier + 1 >= threshold.count else { return }
        }
        evaluation.scratch.recordFired(rule: index, evidence: evidence)
        gatedByRule.forEach(index) { evaluation.scratch.open(rule: $0) }
        effects.fired.append(RuleFiring(ruleID: info.id, evidence: evidence))
        guard let value = info.label else { return }
        if info.negatesLabel {
            // A report rule's `negate:`.
            evaluation.negate(info, into: &effects)
            return
        }
        let made = evaluation.label(
            info, value: value, negating: false,
            expires: info.expiresIn.map { Datetime.format(unixMicros: context.time + $0.microseconds) },
            evidence: evidence)
        switch made {
        case .success(let label):
            if info.emits(for: context.did) { effects.labels.append(label) } else { effects.dryRun.append(label) }
        case .failure(let failure):
            effects.failures.append(failure)
        }
    }

    /// Whether rule `index`, listed for other collections, runs on `context`'s collection.
    private func applies(_ index: Int, to context: RecordContext) -> Bool {
        collectionGlobs[index].contains { CollectionGlob.matches($0, context.collection) }
    }
}

extension RuleScratch {
    /// Rule `index` fired on this event (read by `rule:` references).
    func recordFired(rule index: Int, evidence: MatchEvidence?) {
        ruleEpoch[index] = epoch
        ruleEvidence[index] = evidence
    }

    func hasFired(rule index: Int) -> Bool { ruleEpoch[index] == epoch }

    /// Opens rule `index`'s gate for this event.
    @inline(__always)
    func open(rule index: Int) {
        opened[index >> 6] |= 1 << UInt64(index & 63)
    }

    @inline(__always)
    func isOpened(_ index: Int) -> Bool {
        opened[index >> 6] & (1 << UInt64(index & 63)) != 0
    }
}

/// A regex that gave up while a rule was evaluated.
struct RegexFailure: Error {
    let pattern: String
    let reason: RegexError
}
