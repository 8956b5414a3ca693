import ATProto
import LabelServer
import Rules

/// The dashboard's rules playground: one text or record through a rule set, described as
/// `labeler rules eval` prints it. Pure: nothing is labeled or counted anywhere (a threshold
/// rule counts only this one input).
public enum RulePlayground {
    /// The account an input is evaluated as (rollouts and thresholds key on it).
    static let did = RuleTestSuite.defaultDID

    public static func evaluate(_ input: PlaygroundInput, with set: RuleSet) -> PlaygroundOutcome {
        guard NSID.isValid(input.collection) else { return .refused("\"\(input.collection)\" is not an NSID.") }
        let record: CBORValue
        let collection: String
        switch input.kind {
        case .text:
            collection = Collections.post
            record = .map([
                "$type": .text(CBORText(Collections.post)), "text": .text(CBORText(input.content)),
                "createdAt": .text(CBORText(Datetime.now().rawValue)),
            ])
        case .record:
            collection = input.collection
            do { record = try DataModelJSON.parseObject(input.content) } catch {
                return .refused("The record is not a JSON object: \(error)")
            }
        }
        let context = RecordContext(
            did: did, collection: collection, rkey: "3leval0000000", action: .create, record: record,
            time: Datetime.currentUnixMicros())
        let effects = set.evaluate(context, counts: InMemoryThresholdCounts(), using: RuleScratch())
        return .lines(describe(effects, set: set))
    }

    /// One line per rule that fired (with the labels it would apply and its evidence), per
    /// negation, per threshold count and per failure; "no rule fired" when nothing did. `labeler
    /// rules eval` prints the same lines.
    public static func describe(_ effects: Effects, set: RuleSet) -> [String] {
        var lines: [String] = []
        // A dry run is a rule in `mode: log`, or a rule with a rollout that leaves this account out.
        let labels = Dictionary(grouping: effects.labels.map { ($0, false) } + effects.dryRun.map { ($0, true) }) {
            $0.0.ruleID
        }
        for firing in effects.fired {
            var line = "fired  \(firing.ruleID)"
            for (label, dryRun) in labels[firing.ruleID] ?? [] where !label.negate {
                line += dryRun ? "  would label \(label.value)" : "  label \(label.value)"
                line += " on \(label.subject)"
                if let expires = label.expires { line += " until \(expires)" }
            }
            lines.append(line)
            if let evidence = firing.evidence { lines.append("       \(evidence)") }
        }
        for negation in effects.negations {
            lines.append("negate \(negation.ruleID)  \(negation.value) on \(negation.subject)")
        }
        for bump in effects.counterBumps {
            if let threshold = set.rule(bump.ruleID)?.threshold {
                lines.append(
                    "count  \(bump.ruleID)  one more match toward \(threshold.count) within \(threshold.within)")
            }
        }
        for failure in effects.failures {
            lines.append("error  \(failure.ruleID)  \(failure.reason)\(failure.pattern.map { " (regex \($0))" } ?? "")")
        }
        if effects.fired.isEmpty && effects.failures.isEmpty { lines.append("no rule fired") }
        return lines
    }
}
