import ATProto
import Testing

@testable import Rules

/// Precision, recall and F1 of rules over labeled samples, and `min_precision` / `min_recall`.
@Suite struct RuleQualityTests {
    @Test func figuresFromCounts() {
        let f = RuleQualityFigures(truePositives: 3, falsePositives: 1, falseNegatives: 2)
        #expect(f.precision == 0.75)
        #expect(f.recall == 0.6)
        #expect(abs(f.f1! - 2 * 0.75 * 0.6 / 1.35) < 1e-12)
        // Nothing hit: no precision; nothing expected: no recall. F1 is 0 for a rule that only
        // missed or only erred, and there is none with nothing to score.
        #expect(RuleQualityFigures(truePositives: 0, falsePositives: 0, falseNegatives: 4).precision == nil)
        #expect(RuleQualityFigures(truePositives: 0, falsePositives: 0, falseNegatives: 4).f1 == 0)
        #expect(RuleQualityFigures(truePositives: 0, falsePositives: 2, falseNegatives: 0).recall == nil)
        #expect(RuleQualityFigures(truePositives: 0, falsePositives: 2, falseNegatives: 0).f1 == 0)
        #expect(RuleQualityFigures(truePositives: 0, falsePositives: 1, falseNegatives: 1).f1 == 0)
        #expect(RuleQualityFigures().f1 == nil)
        // The same as the harmonic mean wherever both are defined.
        for (tp, fp, fn) in [(1, 0, 0), (5, 3, 7), (2, 9, 1), (40, 1, 1)] {
            let f = RuleQualityFigures(truePositives: tp, falsePositives: fp, falseNegatives: fn)
            let mean = 2 * f.precision! * f.recall! / (f.precision! + f.recall!)
            #expect(abs(f.f1! - mean) < 1e-12)
        }
        var counted = RuleQualityFigures()
        for (hit, expected) in [(true, true), (true, false), (false, true), (false, false), (true, true)] {
            counted.count(hit: hit, expected: expected)
        }
        #expect(counted == RuleQualityFigures(truePositives: 2, falsePositives: 1, falseNegatives: 1))
        #expect(
            ["0.9", "0.833", "1", "0", "0.444", "-"] == [0.9, 5.0 / 6, 1, 0, 4.0 / 9, nil].map(RuleQuality.format))
    }

    static let rules = """
        rules:
          - {id: giveaway, on: [post], label: spam, match: {keywords: [giveaway]}, min_precision: 0.6, min_recall: 0.5}
          - {id: shortener, on: [post], label: spam, match: {keywords: [shortlink]}}
          - {id: nsfw, on: [post], label: nsfw, mode: log, match: {keywords: [nsfw]}}
          - {id: building-block, on: [post], match: {keywords: [giveaway]}}
        """

    static let samples = """
        {"record": {"text": "free giveaway now"}, "expect": ["spam"]}
        {"record": {"text": "giveaway for charity"}, "expect": []}
        {"record": {"text": "shortlink giveaway"}, "collection": "app.bsky.feed.post", "expect": ["spam"]}
        {"record": {"text": "click this shortlink"}, "expect": ["spam"]}

        {"record": {"text": "win big prizes"}, "expect": ["spam"]}
        {"record": {"text": "nsfw art"}, "expect": ["nsfw"]}
        {"record": {"text": "nsfw giveaway"}, "expect": ["nsfw"], "did": "did:web:example.com"}
        {"record": {"text": "good morning"}, "expect": []}
        {"record": {"displayName": "giveaway"}, "collection": "app.bsky.actor.profile", "expect": ["spam"]}
        """

    @Test func aHandMadeSampleSet() throws {
        var problems: [RuleSampleProblem] = []
        let samples = RuleSampleFile.parse(Self.samples, file: "s.jsonl", problems: &problems)
        #expect(problems.isEmpty)
        #expect(samples.count == 9)
        #expect(samples[4].location == "s.jsonl:6")
        let report = RuleQuality.measure(samples, with: try TestSupport.rules(Self.rules))
        let figures = Dictionary(uniqueKeysWithValues: report.entries.map { ($0.ruleID, $0.figures) })
        // giveaway: hits 1 and 3 (expected), 2 and 7 (not); misses 4, 5 and the profile (9), whose
        // kind it does not run on.
        #expect(figures["giveaway"] == RuleQualityFigures(truePositives: 2, falsePositives: 2, falseNegatives: 3))
        // shortener: hits 3 and 4; 1, 5 and 9 expect spam and are someone else's or nobody's.
        #expect(figures["shortener"] == RuleQualityFigures(truePositives: 2, falsePositives: 0, falseNegatives: 3))
        // A dry-run rule is measured as if it were live.
        #expect(figures["nsfw"] == RuleQualityFigures(truePositives: 2, falsePositives: 0, falseNegatives: 0))
        // A rule without a label has nothing to measure.
        #expect(report.entries.map(\.ruleID) == ["giveaway", "shortener", "nsfw"])
        #expect(figures["giveaway"]?.precision == 0.5)
        #expect(figures["giveaway"]?.recall == 0.4)
        #expect(RuleQuality.format(figures["shortener"]?.f1) == "0.571")
        // The rules of one value together: spam is hit on 1, 3, 4 (expected) and 2, 7 (not), and
        // missed on 5 and 9.
        #expect(report.values.map(\.value) == ["nsfw", "spam"])
        #expect(report.values.last?.ruleIDs == ["giveaway", "shortener"])
        #expect(
            report.values.last?.figures == RuleQualityFigures(truePositives: 3, falsePositives: 2, falseNegatives: 2))
        #expect(
            report.values.first?.figures == RuleQualityFigures(truePositives: 2, falsePositives: 0, falseNegatives: 0))
        #expect(
            report.failures == [
                "rule giveaway: precision 0.5 is below its min_precision 0.6 (2 of its 4 hits expect 'spam')",
                "rule giveaway: recall 0.4 is below its min_recall 0.5 (it hit 2 of the 5 samples expecting 'spam')",
            ])
    }

    static func entry(_ figures: RuleQualityFigures, _ minimums: QualityMinimums) -> RuleQualityReport {
        RuleQualityReport(
            entries: [.init(ruleID: "r", value: "spam", figures: figures, minimums: minimums)], samples: 20)
    }

    @Test func aMinimumMetExactlyPasses() {
        let nineOfTen = RuleQualityFigures(truePositives: 9, falsePositives: 1, falseNegatives: 1)
        #expect(Self.entry(nineOfTen, QualityMinimums(precision: 0.9, recall: 0.9)).failures.isEmpty)
        #expect(Self.entry(nineOfTen, QualityMinimums(precision: 0.91)).failures.count == 1)
        #expect(Self.entry(nineOfTen, QualityMinimums(recall: 0.95)).failures.count == 1)
        #expect(Self.entry(nineOfTen, QualityMinimums(precision: 0, recall: 0)).failures.isEmpty)
    }

    @Test func aMinimumThatCannotBeMeasuredFails() {
        let neverHit = RuleQualityFigures(truePositives: 0, falsePositives: 0, falseNegatives: 3)
        #expect(
            Self.entry(neverHit, QualityMinimums(precision: 0.9)).failures == [
                "rule r: min_precision 0.9 cannot be measured: the rule hit none of the 20 samples"
            ])
        let nothingExpected = RuleQualityFigures(truePositives: 0, falsePositives: 2, falseNegatives: 0)
        #expect(
            Self.entry(nothingExpected, QualityMinimums(recall: 0.8)).failures == [
                "rule r: min_recall 0.8 cannot be measured: none of the 20 samples expects 'spam'"
            ])
        let noSamples = RuleQualityReport(
            entries: [.init(ruleID: "r", value: "spam", figures: .init(), minimums: .init(precision: 0.9))],
            samples: 0)
        #expect(
            noSamples.failures == [
                "rule r: min_precision 0.9 cannot be measured: there are no labeled samples "
                    + "(tests/*.jsonl in the rules folder, or --samples)"
            ])
    }

    @Test func malformedLinesAreReportedWithTheirLine() {
        let text = """
            {"record": {"text": "ok"}, "expect": []}
            {"record": {"text": "no end"}, "expect": [
            ["not an object"]
            {"record": {"text": "x"}, "expected": ["spam"]}
            {"expect": ["spam"]}
            {"record": "text", "expect": []}
            {"record": {"text": "x"}, "expect": "spam"}
            {"record": {"text": "x"}, "expect": [1]}
            {"record": {"text": "x"}, "collection": "post", "expect": []}
            {"record": {"text": "x"}, "did": "alice", "expect": []}
            {"record": {"text": "x"}}
            {"record": {"score": 0.5}, "expect": []}
            """
        var problems: [RuleSampleProblem] = []
        let samples = RuleSampleFile.parse(text, file: "t/s.jsonl", problems: &problems)
        #expect(samples.count == 1)
        #expect(
            problems.map(\.description) == [
                "t/s.jsonl:2: not a JSON object: unexpected end of input at byte 42",
                "t/s.jsonl:3: not a JSON object: top level is not an object",
                "t/s.jsonl:4: unknown key 'expected' in a sample; use record, collection, expect and did; did you mean 'expect'?",
                "t/s.jsonl:5: a sample needs 'record': the record as a JSON object",
                "t/s.jsonl:6: 'record' must be a JSON object, not string",
                "t/s.jsonl:7: 'expect' must be a list of label values, such as [\"spam\"] or []",
                "t/s.jsonl:8: 'expect' must be a list of label values, such as [\"spam\"] or []",
                "t/s.jsonl:9: 'collection' must be an NSID such as app.bsky.feed.post",
                "t/s.jsonl:10: 'did' must be a DID such as did:plc:abc",
                "t/s.jsonl:11: a sample needs 'expect': the label values it should get, [] for none",
                "t/s.jsonl:12: not a JSON object: floating-point numbers are not allowed in the data model at byte 21",
            ])
    }

    @Test func samplesSitBesideTheTestCases() throws {
        let folder = try TestSupport.temporaryFolder()
        try TestSupport.write(Self.rules, to: folder + "/r.yaml")
        try TestSupport.write(Self.samples, to: folder + "/tests/b.jsonl")
        try TestSupport.write(
            "{\"record\": {\"text\": \"giveaway\"}, \"expect\": [\"spam\"]}\n", to: folder + "/tests/a.jsonl")
        #expect(RuleSampleFile.paths(in: folder) == [folder + "/tests/a.jsonl", folder + "/tests/b.jsonl"])
        #expect(try RuleSampleFile.load(paths: RuleSampleFile.paths(in: folder)).count == 10)
        // With samples, a folder needs no YAML cases.
        #expect(try RuleTestSuite.load(directory: folder, required: false).isEmpty)
        #expect(throws: RuleLoadError.self) { try RuleTestSuite.load(directory: folder) }
        #expect(throws: RuleSampleError.self) { try RuleSampleFile.load(paths: [folder + "/tests/none.jsonl"]) }
        do {
            _ = try RuleSampleFile.load(paths: [folder + "/tests/none.jsonl"])
        } catch {
            #expect(error.problems.map(\.description) == [folder + "/tests/none.jsonl: no such file"])
        }
    }
}
