import Yams

/// The keys that say how a rule is rolled out and how good it must stay: `rollout`,
/// `min_precision` and `min_recall`.
extension RuleFileParser {
    static let impactKeys = ["rollout", "min_precision", "min_recall"]

    /// Reads the impact keys into `rule`; each needs a label (a rule without one emits nothing to
    /// roll out or to measure).
    mutating func readImpact(_ entries: MappingEntries, into rule: inout RuleDefinition) {
        if let node = entries["rollout"] { rule.rollout = rollout(node) }
        if let node = entries["min_precision"] { rule.minimums.precision = share(node, "min_precision") }
        if let node = entries["min_recall"] { rule.minimums.recall = share(node, "min_recall") }
        guard rule.label == nil else { return }
        for key in Self.impactKeys {
            if let node = entries.keyNode(key) {
                reader.error(
                    node,
                    key == "rollout"
                        ? "rollout needs a 'label' to roll out"
                        : "\(key) needs a 'label': it is measured on the samples that expect the rule's label value")
            }
        }
    }

    private mutating func rollout(_ node: Node) -> Rollout? {
        guard let text = reader.string(node, "rollout") else { return nil }
        if let rollout = Rollout(text) { return rollout }
        let digits = text.hasSuffix("%") ? text.dropLast() : Substring(text)
        if !text.hasSuffix("%"), Double(digits) != nil {
            reader.error(node, "invalid rollout '\(text)': write it as a percentage of accounts, such as 10% or 0.5%")
        } else if let value = Double(digits), value > 100 {
            reader.error(node, "invalid rollout '\(text)': a rule cannot cover more than 100% of accounts")
        } else {
            reader.error(
                node,
                "invalid rollout '\(text)': use a percentage of accounts from 0% to 100% with at most two decimals, "
                    + "such as 10% or 0.5%")
        }
        return nil
    }

    /// A share from 0 to 1 (`0.9`).
    private mutating func share(_ node: Node, _ key: String) -> Double? {
        guard let scalar = node.scalar else {
            reader.error(node, "\(key) must be a number from 0 to 1 (such as 0.9), not \(reader.kindName(of: node))")
            return nil
        }
        let text = scalar.string
        let plain =
            !text.isEmpty && text.allSatisfy { "0123456789.".contains($0) } && text.first != "."
            && text.last != "." && text.filter { $0 == "." }.count <= 1
        guard plain, let value = Double(text) else {
            reader.error(node, "\(key) must be a number from 0 to 1 (such as 0.9), not \(reader.kindName(of: node))")
            return nil
        }
        guard value <= 1 else {
            reader.error(
                node,
                "\(key) \(text) is out of range: use a number from 0 to 1 (0.9 for 90%)")
            return nil
        }
        return value
    }
}
