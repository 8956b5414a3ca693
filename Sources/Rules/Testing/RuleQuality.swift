/// How well one rule's label agrees with labeled samples.
///
/// For a rule emitting value `v`, on each sample:
/// - a *hit* is the rule emitting `v` on the sample, applied or as a dry run (`mode: log` and
///   rollouts are measured as if live: measuring a rule before it goes live is the point);
/// - a hit is a true positive when `v` is in the sample's `expect`, else a false positive;
/// - a sample that expects `v` and that the rule does not hit is a false negative of that rule,
///   even when another rule emitting `v` hits it: recall is the share of the `v` samples this
///   rule catches by itself.
public struct RuleQualityFigures: Hashable, Sendable {
    public var truePositives = 0
    public var falsePositives = 0
    public var falseNegatives = 0

    public init(truePositives: Int = 0, falsePositives: Int = 0, falseNegatives: Int = 0) {
        self.truePositives = truePositives
        self.falsePositives = falsePositives
        self.falseNegatives = falseNegatives
    }

    /// Hits that were expected, of all hits; `nil` when the rule hit no sample.
    public var precision: Double? {
        let hits = truePositives + falsePositives
        return hits == 0 ? nil : Double(truePositives) / Double(hits)
    }

    /// Expected samples hit, of all samples expecting the value; `nil` when none expects it.
    public var recall: Double? {
        let expected = truePositives + falseNegatives
        return expected == 0 ? nil : Double(truePositives) / Double(expected)
    }

    /// The harmonic mean of precision and recall, as 2·TP / (2·TP + FP + FN): 0 when the rule
    /// only missed or only erred, even where precision or recall cannot be computed; `nil` when
    /// there is nothing to score (no hit, nothing expected).
    public var f1: Double? {
        let scored = 2 * truePositives + falsePositives + falseNegatives
        return scored == 0 ? nil : Double(2 * truePositives) / Double(scored)
    }

    /// Counts one sample: whether the rule hit it, and whether the sample expects its value.
    public mutating func count(hit: Bool, expected: Bool) {
        switch (hit, expected) {
        case (true, true): truePositives += 1
        case (true, false): falsePositives += 1
        case (false, true): falseNegatives += 1
        case (false, false): break
        }
    }
}

/// The figures of every labeling rule of a set over samples, and which minimums they miss.
public struct RuleQualityReport: Sendable {
    public struct Entry: Sendable {
        public var ruleID: String
        /// The label value the rule emits.
        public var value: String
        public var figures: RuleQualityFigures
        public var minimums: QualityMinimums
    }

    /// The rules emitting one value, together: a sample is hit when any of them hits it. Where
    /// several rules share a value, each rule's recall is its own share; this is the value's.
    public struct ValueEntry: Sendable {
        public var value: String
        /// The rules emitting it, in the order of the rule files.
        public var ruleIDs: [String]
        public var figures: RuleQualityFigures
    }

    /// One entry per rule with a label, in the order of the rule files.
    public var entries: [Entry]
    /// One entry per label value the rules emit, sorted.
    public var values: [ValueEntry] = []
    public var samples: Int

    /// One line per minimum not met or not measurable, naming the rule and the figures.
    public var failures: [String] {
        entries.flatMap { entry in RuleQuality.failures(of: entry, samples: samples) }
    }
}

/// Runs rules over labeled samples and scores them: the code behind the precision and recall of
/// `labeler rules test`.
public enum RuleQuality {
    public static func measure(_ samples: [RuleSample], with set: RuleSet) -> RuleQualityReport {
        let labeling = set.rules.sorted { $0.location < $1.location }.compactMap { info in
            info.label.map { (info, $0) }
        }
        let values = Set(labeling.map(\.1)).sorted()
        var figures = [RuleQualityFigures](repeating: RuleQualityFigures(), count: labeling.count)
        var valueFigures = [RuleQualityFigures](repeating: RuleQualityFigures(), count: values.count)
        let scratch = RuleScratch()
        for sample in samples {
            let effects = set.evaluate(sample.context, using: scratch)
            let emitted = (effects.labels + effects.dryRun).filter { !$0.negate }
            let hits = Set(emitted.map { HitKey($0.ruleID, $0.value) })
            for (index, (info, value)) in labeling.enumerated() {
                figures[index].count(
                    hit: hits.contains(HitKey(info.id, value)), expected: sample.expect.contains(value))
            }
            let hitValues = Set(emitted.map(\.value))
            for (index, value) in values.enumerated() {
                valueFigures[index].count(hit: hitValues.contains(value), expected: sample.expect.contains(value))
            }
        }
        return RuleQualityReport(
            entries: zip(labeling, figures).map { rule, figures in
                .init(ruleID: rule.0.id, value: rule.1, figures: figures, minimums: rule.0.minimums)
            },
            values: zip(values, valueFigures).map { value, figures in
                .init(value: value, ruleIDs: labeling.filter { $0.1 == value }.map(\.0.id), figures: figures)
            },
            samples: samples.count)
    }

    private struct HitKey: Hashable {
        let rule: String
        let value: String
        init(_ rule: String, _ value: String) {
            self.rule = rule
            self.value = value
        }
    }

    /// A figure meets its minimum when it is at least the minimum, give or take the rounding of
    /// the division (9 of 10 meets 0.9).
    static func meets(_ figure: Double, _ minimum: Double) -> Bool { figure + 1e-9 >= minimum }

    static func failures(of entry: RuleQualityReport.Entry, samples: Int) -> [String] {
        var lines: [String] = []
        let f = entry.figures
        let rule = "rule \(entry.ruleID)"
        guard samples > 0 else {
            return [("min_precision", entry.minimums.precision), ("min_recall", entry.minimums.recall)].compactMap {
                key, minimum in
                minimum.map {
                    "\(rule): \(key) \(format($0)) cannot be measured: there are no labeled samples "
                        + "(tests/*.jsonl in the rules folder, or --samples)"
                }
            }
        }
        if let minimum = entry.minimums.precision {
            if let precision = f.precision {
                if !meets(precision, minimum) {
                    lines.append(
                        "\(rule): precision \(format(precision)) is below its min_precision \(format(minimum)) "
                            + "(\(f.truePositives) of its \(f.truePositives + f.falsePositives) hits expect "
                            + "'\(entry.value)')")
                }
            } else {
                lines.append(
                    "\(rule): min_precision \(format(minimum)) cannot be measured: the rule hit none of the "
                        + "\(samples) samples")
            }
        }
        if let minimum = entry.minimums.recall {
            if let recall = f.recall {
                if !meets(recall, minimum) {
                    lines.append(
                        "\(rule): recall \(format(recall)) is below its min_recall \(format(minimum)) "
                            + "(it hit \(f.truePositives) of the \(f.truePositives + f.falseNegatives) samples "
                            + "expecting '\(entry.value)')")
                }
            } else {
                lines.append(
                    "\(rule): min_recall \(format(minimum)) cannot be measured: none of the \(samples) samples "
                        + "expects '\(entry.value)'")
            }
        }
        return lines
    }

    /// `value` with three decimals at most, trailing zeros dropped (`0.9`, `0.833`, `1`), or `-`.
    public static func format(_ value: Double?) -> String {
        guard let value else { return "-" }
        let thousandths = Int((value * 1000).rounded())
        let whole = thousandths / 1000
        var fraction = String(thousandths % 1000)
        fraction = String(repeating: "0", count: 3 - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return fraction.isEmpty ? "\(whole)" : "\(whole).\(fraction)"
    }
}
