import Rules
import Testing

@Suite struct RuleLimitsTests {
    static func rule(_ limits: String) -> String {
        """
        rules:
          - id: spammy
            on: [post]
            match: {regex: "buy now"}
            label: spam
            limits: \(limits)
        """
    }

    @Test func limitsAreReadIntoTheRuleAndItsLabels() throws {
        let set = try TestSupport.rules(Self.rule("{per_minute: 5, per_day: 100}"))
        #expect(set.rules[0].limits == RuleLimits(perMinute: 5, perDay: 100))
        let effects = set.evaluate(TestSupport.post("buy now!"), using: RuleScratch())
        #expect(effects.labels.first?.limits == RuleLimits(perMinute: 5, perDay: 100))
    }

    @Test func badLimitsSayWhereAndWhat() {
        #expect(
            TestSupport.problems(["rules/a.yaml": Self.rule("{per_minute: 0}")]) == [
                "rules/a.yaml:6:26: limits per_minute must be at least 1 (to stop a rule, remove it or use mode: log)"
            ])
        let unknown = TestSupport.problems(["rules/a.yaml": Self.rule("{per_week: 3}")])
        #expect(unknown.count == 1 && unknown[0].hasPrefix("rules/a.yaml:6:") && unknown[0].contains("per_week"))
        #expect(
            TestSupport.problems(["rules/a.yaml": Self.rule("{}")]) == [
                "rules/a.yaml:6:13: limits needs per_minute, per_hour or per_day"
            ])
        #expect(
            TestSupport.problems(["rules/a.yaml": Self.rule("{per_hour: lots}")]) == [
                "rules/a.yaml:6:24: limits per_hour must be a whole number"
            ])
        let noLabel = """
            rules:
              - id: gate
                on: [post]
                match: {regex: "x"}
                limits: {per_day: 3}
            """
        #expect(
            TestSupport.problems(["rules/b.yaml": noLabel]) == ["rules/b.yaml:5:13: limits needs a 'label' to limit"])
    }
}
