/// What a rule edit would change: the labels in force after one run compared with those after
/// another (`labeler rules diff`). Pure: the runs' end states come in, counts and samples go out.
///
/// Labels are compared by their end state, not by what happened on the way: a label (subject
/// `uri`, value `val`) is *added* when it is applied at the end of the new run and not of the old
/// one, *removed* in the other case, *unchanged* when both end with it applied. Versions of a
/// record (CIDs) count as one subject, so a label applied to an edited post's new version is the
/// same label.
///
/// Per rule, each run's labels count for the rule that applied them last. A label applied by
/// rule `a` in one run and by rule `b` in the other is unchanged in the total, removed for `a`
/// and added for `b`.
public struct RuleDiff: Sendable, Equatable {
    /// A label in force at the end of a run, and the rule that applied it last.
    public struct Applied: Hashable, Sendable {
        public var uri: String
        public var val: String
        public var ruleID: String

        public init(uri: String, val: String, ruleID: String) {
            self.uri = uri
            self.val = val
            self.ruleID = ruleID
        }

        var key: Key { Key(uri: uri, val: val) }
    }

    /// A label's identity across runs.
    public struct Key: Hashable, Sendable, Comparable {
        public var uri: String
        public var val: String

        public init(uri: String, val: String) {
            self.uri = uri
            self.val = val
        }

        public static func < (a: Key, b: Key) -> Bool { (a.uri, a.val) < (b.uri, b.val) }
    }

    /// One label shown as an example: where, and what matched (from the run that applied it).
    public struct Sample: Hashable, Sendable {
        public var uri: String
        public var val: String
        public var field: String?
        public var snippet: String?

        public init(uri: String, val: String, field: String? = nil, snippet: String? = nil) {
            self.uri = uri
            self.val = val
            self.field = field
            self.snippet = snippet
        }
    }

    public enum Change: String, Sendable, CaseIterable {
        case added, removed, unchanged
    }

    /// Counts, and up to the requested number of samples of each change.
    public struct Counts: Sendable, Equatable {
        public var added = 0
        public var removed = 0
        public var unchanged = 0
        public var samples: [Change: [Sample]] = [:]

        public init(added: Int = 0, removed: Int = 0, unchanged: Int = 0) {
            self.added = added
            self.removed = removed
            self.unchanged = unchanged
        }

        public subscript(change: Change) -> Int {
            switch change {
            case .added: added
            case .removed: removed
            case .unchanged: unchanged
            }
        }
    }

    /// Over every label.
    public var total: Counts
    /// By rule id: every rule that applied a label in either run, and every id in `ruleIDs`.
    public var rules: [String: Counts]

    /// Which run a sample's details come from: the old one for removed labels, else the new one.
    public enum Run: Sendable {
        case from, to
    }

    /// Compares two end states.
    /// - Parameters:
    ///   - ruleIDs: rules to list even when they applied nothing in either run (a new rule that
    ///     labels nothing is worth seeing).
    ///   - samples: how many samples to keep of each change per rule: the first by URI and value,
    ///     so two runs over the same captures show the same samples.
    ///   - details: the field and matched text of a label in one run, for its samples.
    public static func compare(
        from old: [Applied], to new: [Applied], ruleIDs: [String] = [], samples: Int,
        details: (Run, Key) -> (field: String?, snippet: String?)? = { _, _ in nil }
    ) -> RuleDiff {
        let oldByKey = lastRule(of: old)
        let newByKey = lastRule(of: new)
        var total = Counts()
        total.added = newByKey.keys.filter { oldByKey[$0] == nil }.count
        total.removed = oldByKey.keys.filter { newByKey[$0] == nil }.count
        total.unchanged = newByKey.count - total.added

        let oldByRule = Dictionary(grouping: oldByKey.keys) { oldByKey[$0]! }.mapValues { Set($0) }
        let newByRule = Dictionary(grouping: newByKey.keys) { newByKey[$0]! }.mapValues { Set($0) }
        var rules: [String: Counts] = [:]
        for id in Set(oldByRule.keys).union(newByRule.keys).union(ruleIDs) {
            let before = oldByRule[id] ?? []
            let after = newByRule[id] ?? []
            let changes: [(Change, Set<Key>, Run)] = [
                (.added, after.subtracting(before), .to), (.removed, before.subtracting(after), .from),
                (.unchanged, after.intersection(before), .to),
            ]
            var counts = Counts()
            for (change, keys, run) in changes {
                switch change {
                case .added: counts.added = keys.count
                case .removed: counts.removed = keys.count
                case .unchanged: counts.unchanged = keys.count
                }
                counts.samples[change] = keys.sorted().prefix(max(0, samples)).map { key in
                    let found = details(run, key)
                    return Sample(uri: key.uri, val: key.val, field: found?.field, snippet: found?.snippet)
                }
            }
            rules[id] = counts
        }
        return RuleDiff(total: total, rules: rules)
    }

    /// Each label's rule; of several rows for one label (record versions), the last listed.
    private static func lastRule(of labels: [Applied]) -> [Key: String] {
        var out: [Key: String] = [:]
        for label in labels { out[label.key] = label.ruleID }
        return out
    }
}
