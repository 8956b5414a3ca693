import ATProto
import Matching

extension RuleSet {
    /// Runs the rules that apply to `context` and returns what they decided. Pure: reads only its
    /// arguments, writes only `scratch`.
    ///
    /// - Creates and updates: a rule fires when its `match` holds, its `unless` does not, and its
    ///   threshold (counting this event) is reached. Firing applies its label (or reports it as a
    ///   dry run in `mode: log`); an update or identity event on which a rule with
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
        let evaluation = Evaluation(set: self, context: context, slot: slot, scratch: scratch)

        if context.action == .delete {
            for index in rulesBySlot[slot] where applies(index, to: context, slot: slot) {
                let info = compiled[index].info
                if info.negateOnNoMatch { evaluation.negate(info, into: &effects) }
            }
            return effects
        }
        guard context.record != nil || context.isIdentity else { return effects }

        for index in rulesBySlot[slot] where applies(index, to: context, slot: slot) {
            let rule = compiled[index]
            let info = rule.info
            var matched: ConditionResult
            do {
                matched = try evaluation.evaluate(rule.condition)
                if matched.holds, let unless = rule.unless, try evaluation.evaluate(unless).holds {
                    matched = .no
                }
            } catch {
                effects.failures.append(
                    RuleFailure(ruleID: info.id, uri: context.uri, pattern: error.pattern, reason: error.reason.description))
                scratch.record(rule: index, fired: false, evidence: nil)
                continue
            }

            var fired = matched.holds
            if fired, let threshold = info.threshold {
                let window = threshold.within.microseconds
                effects.counterBumps.append(
                    CounterBump(ruleID: info.id, did: context.did, time: context.time, window: window))
                let earlier = counts.count(ruleID: info.id, did: context.did, since: context.time - window)
                fired = earlier + 1 >= threshold.count
            }
            scratch.record(rule: index, fired: fired, evidence: matched.evidence)

            if fired {
                effects.fired.append(RuleFiring(ruleID: info.id, evidence: matched.evidence))
                if let value = info.label {
                    let label = LabelEffect(
                        ruleID: info.id, value: value, subject: evaluation.subject(of: info, negating: false),
                        expires: info.expiresIn.map { Datetime.format(unixMicros: context.time + $0.microseconds) },
                        evidence: matched.evidence)
                    if info.mode == .log { effects.dryRun.append(label) } else { effects.labels.append(label) }
                }
            } else if !matched.holds, info.negateOnNoMatch, context.action == .update {
                evaluation.negate(info, into: &effects)
            }
        }
        return effects
    }

    /// Whether rule `index` (listed for `slot`) runs on `context`: for other collections, whether
    /// one of its collection globs matches.
    private func applies(_ index: Int, to context: RecordContext, slot: Int) -> Bool {
        guard slot == RecordKind.collection("*").slot else { return true }
        return collectionGlobs[index].contains { CollectionGlob.matches($0, context.collection) }
    }
}

extension RuleScratch {
    func record(rule index: Int, fired: Bool, evidence: MatchEvidence?) {
        ruleEpoch[index] = epoch
        ruleFired[index] = fired
        ruleEvidence[index] = fired ? evidence : nil
    }
}

/// Whether a condition held, and the first evidence found for it.
struct ConditionResult {
    var holds: Bool
    var evidence: MatchEvidence?

    static let no = ConditionResult(holds: false, evidence: nil)
}

/// A regex that gave up while a rule was evaluated.
struct RegexFailure: Error {
    let pattern: String
    let reason: RegexError
}
