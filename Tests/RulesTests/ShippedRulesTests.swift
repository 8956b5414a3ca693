import ATProto
import Testing

@testable import Rules

/// The starter rules in `rules/` load, pass their own test cases (what `labeler rules test rules`
/// runs), and catch what the synthetic corpus plants.
@Suite struct ShippedRulesTests {
    let set: RuleSet

    init() throws {
        set = try RuleSet.load(directory: TestSupport.shippedRules)
    }

    @Test func shippedTestCasesPass() throws {
        let cases = try RuleTestSuite.load(directory: TestSupport.shippedRules)
        #expect(cases.count >= 30)
        let results = RuleTestRunner.run(cases, with: set)
        for result in results where !result.passed {
            Issue.record(
                "\(result.testCase.location): \(result.testCase.name): \(result.mismatches.joined(separator: "; "))")
        }
        // Every labeling rule is exercised by some case.
        let applied = Set(results.flatMap { $0.effects.fired.map(\.ruleID) })
        for rule in set.rules where rule.label != nil {
            #expect(applied.contains(rule.id), "no test case fires \(rule.id)")
        }
    }

    /// The labeled samples in `rules/tests/*.jsonl`: no starter rule labels one it should not,
    /// and every value expected is found by some rule emitting it.
    @Test func shippedSamplesAreLabeledWithoutAMistake() throws {
        let samples = try RuleSampleFile.load(paths: RuleSampleFile.paths(in: TestSupport.shippedRules))
        #expect(samples.count >= 15)
        let report = RuleQuality.measure(samples, with: set)
        for entry in report.entries where entry.figures.falsePositives > 0 {
            Issue.record("\(entry.ruleID) labels \(entry.figures.falsePositives) samples it should not")
        }
        for entry in report.values where entry.figures.truePositives + entry.figures.falseNegatives > 0 {
            #expect(entry.figures.recall == 1, "\(entry.value): \(entry.figures)")
        }
        #expect(report.failures.isEmpty)
    }

    /// `rules/labels.yaml` defines exactly the values the starter rules emit, so the set loads
    /// with it (as `labeler rules check rules` does) and declares nothing unused.
    @Test func shippedLabelDefinitionsCoverTheShippedRules() throws {
        let definitions = try #require(set.labelDefinitions)
        #expect(definitions.path == TestSupport.shippedRules + "/labels.yaml")
        #expect(Set(definitions.values) == Set(set.emittedValues))
        #expect(definitions.values.count == set.emittedValues.count)
        #expect(set.warnings.isEmpty)
        for definition in definitions.definitions {
            #expect(definition.locales.map(\.lang) == ["en"], "\(definition.value)")
        }
    }

    @Test(arguments: (1...20).map { "BADWORD\($0)" })
    func plantedPlaceholderSlurs(word: String) {
        #expect(TestSupport.labels(set, TestSupport.post("some text \(word) more")).contains("slur"))
    }

    @Test(arguments: [
        "+1 555-201-3344", "(555) 201-3344", "call +1 555-201-3344 now", "or (555) 201-3344.",
    ])
    func plantedPhoneNumbers(text: String) {
        #expect(TestSupport.labels(set, TestSupport.post(text)) == ["doxxing"])
    }

    @Test func plantedGiveawayLinkAndRepeatedCharacters() throws {
        #expect(TestSupport.labels(set, TestSupport.post("get yours free-crypto-giveaway today")) == ["spam"])
        let link = try TestSupport.json(
            Collections.post,
            #"{"text": "look", "facets": [{"index": {"byteStart": 0, "byteEnd": 4}, "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://x.example/free-crypto-giveaway"}]}]}"#
        )
        #expect(TestSupport.labels(set, link) == ["spam"])
        #expect(TestSupport.labels(set, TestSupport.post("so goooooooooooood")) == ["repeated-chars"])
        #expect(TestSupport.labels(set, TestSupport.post("!!!!!!!!!!!!")) == ["repeated-chars"])
    }

    @Test func ordinaryPostsAreLeftAlone() {
        for text in [
            "Had a lovely walk in the park this morning ☀️", "New blog post: how we moved our build to Swift 6",
            "Meeting at 10:30, room 204", "Score was 3-2 after 90 minutes", "¿Qué tal? Très bien, merci",
        ] {
            #expect(TestSupport.labels(set, TestSupport.post(text)) == [], "\(text)")
        }
    }
}
