/// One case of a rule test file: an event, and the label values the rules must produce for it.
public struct RuleTestCase: Sendable {
    public var name: String
    /// Where the case starts in its file.
    public var location: SourceLocation
    public var context: RecordContext
    /// Earlier matches per threshold rule id (`counts:`), the same for every account.
    public var counts: [String: Int]
    /// Label values applied (`expect:`), compared as sets.
    public var expect: [String]
    /// Label values of `mode: log` rules (`expect_log:`), applied or negated; unchecked when `nil`.
    public var expectLog: [String]?
    /// Label values negated (`expect_negate:`); unchecked when `nil`.
    public var expectNegate: [String]?
    /// For a report: whether a rule escalates it (`expect_escalate:`); unchecked when `nil`.
    public var expectEscalate: Bool? = nil
}

/// The outcome of one ``RuleTestCase``.
public struct RuleTestResult: Sendable {
    public var testCase: RuleTestCase
    public var effects: Effects
    /// One line per expectation that was not met (`expect: [spam]  got: []`); empty when passed.
    public var mismatches: [String]

    public var passed: Bool { mismatches.isEmpty }
}

/// Runs rule test cases against a rule set: the code behind `labeler rules test`, also used by the
/// project's own tests on the shipped rules.
public enum RuleTestRunner {
    public static func run(_ cases: [RuleTestCase], with set: RuleSet) -> [RuleTestResult] {
        let scratch = RuleScratch()
        return cases.map { testCase in
            let effects = set.evaluate(testCase.context, counts: FixedThresholdCounts(testCase.counts), using: scratch)
            var mismatches: [String] = []
            func check(_ key: String, _ expected: [String]?, _ got: [String]) {
                guard let expected else { return }
                let want = Set(expected).sorted()
                let have = Set(got).sorted()
                if want != have { mismatches.append("\(key): \(list(want))  got: \(list(have))") }
            }
            check("expect", testCase.expect, effects.labels.map(\.value))
            check("expect_log", testCase.expectLog, effects.dryRun.map(\.value))
            check("expect_negate", testCase.expectNegate, effects.negations.map(\.value))
            if let expected = testCase.expectEscalate {
                let escalating = effects.fired.compactMap { set.rule($0.ruleID) }.filter {
                    $0.escalates && $0.emits(for: testCase.context.did)
                }
                if escalating.isEmpty == expected {
                    mismatches.append(
                        "expect_escalate: \(expected)  got: "
                            + (escalating.isEmpty
                                ? "false" : "true (" + escalating.map(\.id).joined(separator: ", ") + ")"))
                }
            }
            for failure in effects.failures { mismatches.append("rule error: \(failure)") }
            return RuleTestResult(testCase: testCase, effects: effects, mismatches: mismatches)
        }
    }

    private static func list(_ values: [String]) -> String { "[" + values.joined(separator: ", ") + "]" }
}
