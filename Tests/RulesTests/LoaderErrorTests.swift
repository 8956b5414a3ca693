import Foundation
import Testing

@testable import Rules

/// `rules check` on a folder with one broken file of each kind: every problem, at its exact place.
@Suite struct LoaderErrorTests {
    @Test func brokenFolderReportsEveryProblemAtItsPlace() throws {
        let root = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let files: [String: String] = [
            "unknown-key.yaml": """
            rules:
              - id: a
                on: [post]
                match: {keywords: [x]}
                label: spam
                expire_in: 7d
            """,
            "duplicate-id.yaml": """
            rules:
              - id: dup
                on: [post]
                match: {keywords: [y]}
              - id: dup
                on: [post]
                match: {keywords: [z]}
            """,
            "bad-label.yaml": """
            rules:
              - id: b
                on: [post]
                match: {keywords: [y]}
                label: Spam Bot
              - id: c
                on: [post]
                match: {keywords: [y]}
                label: '!takedown'
            """,
            "bad-regex.yaml": """
            rules:
              - id: d
                on: [post]
                match:
                  regex: 'free (crypto|coin giveaway'
            """,
            "missing-list.yaml": """
            rules:
              - id: e
                on: [post]
                match:
                  keywords: {file: lists/nope.txt}
            """,
            "bad-field.yaml": """
            rules:
              - id: f
                on: [post]
                match:
                  keywords: [x]
                  in: [display_name]
            """,
            "cycle.yaml": """
            rules:
              - id: g
                on: [post]
                match: {rule: h}
              - id: h
                on: [post]
                match: {rule: g}
            """,
            "bad-duration.yaml": """
            rules:
              - id: i
                on: [post]
                match: {keywords: [x]}
                label: spam
                expires_in: 7 days
            """,
            "bad-kind.yaml": """
            rules:
              - id: j
                on: [posts]
                match: {keywords: [x]}
            """,
            "syntax.yaml": """
            rules:
              - id: k
                on: [post
                match: {keywords: [x]}
            """,
        ]
        for (name, text) in files { try TestSupport.write(text, to: root + "/" + name) }
        // Test cases are not rule files.
        try TestSupport.write("cases: [not, a, rule, file", to: root + "/tests/cases.yaml")

        var diagnostics: [String] = []
        do {
            _ = try RuleSet.load(directory: root)
            Issue.record("a broken folder loaded")
        } catch {
            diagnostics = error.diagnostics.map(\.description)
        }
        let expected = [
            "\(root)/bad-duration.yaml:6:17: invalid duration '7 days': use a whole number and a unit s, m, h or d (30s, 10m, 24h, 7d; at most 10 years)",
            "\(root)/bad-field.yaml:6:12: field 'display_name' does not exist on post records; post fields are text, alt, links, domains, tags, langs, any_text",
            "\(root)/bad-kind.yaml:3:10: unknown record kind 'posts': use post, profile, list, starterpack, handle, report or a collection NSID; did you mean 'post'?",
            "\(root)/bad-label.yaml:5:12: invalid label value 'Spam Bot': use lowercase letters a-z and '-' only",
            "\(root)/bad-label.yaml:9:12: label value '!takedown' is not a global value; only !hide, !no-unauthenticated, !warn may start with '!'",
            "\(root)/bad-regex.yaml:5:41: invalid regex: missing closing parenthesis",
            "\(root)/cycle.yaml:7:19: rule reference cycle: g → h → g",
            "\(root)/duplicate-id.yaml:5:9: duplicate rule id 'dup' (first defined at \(root)/duplicate-id.yaml:2:9)",
            "\(root)/missing-list.yaml:5:24: cannot read list file 'lists/nope.txt' (\(root)/lists/nope.txt): no such file",
            "\(root)/syntax.yaml:4:10: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at line 3, column 9)",
            "\(root)/unknown-key.yaml:6:5: unknown key 'expire_in' in a rule; did you mean 'expires_in'?",
        ]
        #expect(diagnostics == expected)
    }

    @Test func regexErrorPositionsInsideEveryScalarStyle() {
        let problems = TestSupport.problems([
            "r.yaml": #"""
            rules:
              - id: plain
                on: [post]
                match: {regex: ab(c}
              - id: single
                on: [post]
                match: {regex: 'it''s (x'}
              - id: double
                on: [post]
                match: {regex: "\\d+\x41[a-"}
              - id: block
                on: [post]
                match:
                  regex: |
                    first
                    a{2,1}
              - id: class
                on: [post]
                match: {regex: 'x[z-a]y'}
            """#
        ])
        #expect(
            problems == [
                "r.yaml:4:24: invalid regex: missing closing parenthesis",
                "r.yaml:7:29: invalid regex: missing closing parenthesis",
                "r.yaml:10:32: invalid regex: missing terminating ] for character class",
                "r.yaml:16:14: invalid regex: numbers out of order in {} quantifier",
                "r.yaml:19:25: invalid regex: range out of order in character class",
            ])
    }

    @Test func regexErrorInAListFilePointsIntoTheListFile() {
        let problems = TestSupport.problems(
            ["rules/r.yaml": "rules:\n  - id: r\n    on: [post]\n    match: {regex: {file: lists/p.txt}}\n"],
            lists: ["rules/lists/p.txt": "# patterns\nfine\n  bro(ken\n"])
        #expect(problems == ["rules/lists/p.txt:3:10: invalid regex: missing closing parenthesis"])
    }

    @Test func duplicateKeyIsReportedWhereItRepeats() {
        let problems = TestSupport.problems([
            "r.yaml": "rules:\n  - id: r\n    on: [post]\n    match: {keywords: [x]}\n    label: spam\n    label: ham\n"
        ])
        #expect(problems == ["r.yaml:6:5: duplicate key 'label' (first at line 5, column 5)"])
    }

    @Test func conditionShapeProblems() {
        let problems = TestSupport.problems([
            "r.yaml": """
            rules:
              - id: r
                on: [post]
                match:
                  all:
                    - {regex: a, keywords: [b]}
                    - {keywords: [c], case_insensitive: true}
                    - {keyword: [d]}
                    - {langs: [en], in: [text]}
                    - {keywords: [e], mode: phrase}
                    - {rule: nope}
            """
        ])
        #expect(
            problems == [
                "r.yaml:6:22: 'keywords' cannot be combined with 'regex' in one condition; put them in a list under any: or all:",
                "r.yaml:7:27: 'case_insensitive' does not apply to 'keywords'; it goes with regex",
                "r.yaml:8:12: unknown key 'keyword' in a condition; did you mean 'keywords'?",
                "r.yaml:9:25: 'in' does not apply to 'langs'; it goes with regex or keywords",
                "r.yaml:10:33: invalid keyword mode 'phrase': use word or substring",
                "r.yaml:11:18: unknown rule 'nope' in rule reference",
            ])
    }

    @Test func ruleLevelProblems() {
        let problems = TestSupport.problems([
            "r.yaml": """
            rules:
              - id: no-match
                on: [post]
              - id: bad-subject
                on: [post]
                match: {keywords: [x]}
                subject: acount
                label: x
              - id: threshold
                on: [post]
                match: {keywords: [x]}
                threshold: {count: 0, within: 1w}
              - id: handle-record
                on: [handle]
                match: {keywords: [x]}
                subject: record
              - id: langs-on-profile
                on: [profile]
                match: {langs: [en]}
              - id: negate-without-label
                on: [post]
                match: {keywords: [x]}
                on_no_match: negate
              - id: Not Valid
                on: [com.example.thing, app.bsky.feed.*]
                match: {keywords: [x], in: [text]}
            """
        ])
        #expect(
            problems == [
                "r.yaml:2:5: rule 'no-match' needs a 'match' condition",
                "r.yaml:7:14: invalid subject 'acount': use record or account; did you mean 'account'?",
                "r.yaml:12:24: threshold count must be at least 1",
                "r.yaml:12:35: invalid duration '1w': use a whole number and a unit s, m, h or d (30s, 10m, 24h, 7d; at most 10 years)",
                "r.yaml:16:14: subject: record is not possible on handle events (they have no record); use subject: account",
                "r.yaml:19:20: langs applies to posts only (other records declare no languages)",
                "r.yaml:23:18: on_no_match: negate needs a 'label' to negate",
                "r.yaml:24:9: invalid rule id 'Not Valid': use letters, digits, '-', '_' and '.' (at most 128)",
                "r.yaml:26:33: field 'text' does not exist on collections given by NSID; they offer any_text only",
            ])
    }

    @Test func referenceToARuleOfAnotherKindIsReported() {
        let problems = TestSupport.problems([
            "r.yaml": """
            rules:
              - id: profile-rule
                on: [profile]
                match: {keywords: [x]}
              - id: post-rule
                on: [post]
                match: {rule: profile-rule}
            """
        ])
        #expect(
            problems == [
                "r.yaml:7:19: rule 'profile-rule' runs on profile, never on post, so this reference can never be true"
            ])
    }

    @Test func longerCycleIsSpelledOut() {
        let problems = TestSupport.problems([
            "r.yaml": """
            rules:
              - {id: a, on: [post], match: {any: [{rule: b}, {keywords: [x]}]}}
              - {id: b, on: [post], match: {rule: c}}
              - {id: c, on: [post], match: {not: {rule: a}}}
              - {id: self, on: [post], match: {rule: self}}
            """
        ])
        #expect(
            problems == [
                "r.yaml:4:45: rule reference cycle: a → b → c → a",
                "r.yaml:5:42: rule reference cycle: self → self",
            ])
    }

    @Test func badLabelValues() {
        #expect(LabelValue.problem(with: "spam") == nil)
        #expect(LabelValue.problem(with: "!hide") == nil)
        #expect(LabelValue.problem(with: "!no-unauthenticated") == nil)
        #expect(LabelValue.problem(with: "spam2") != nil)
        #expect(LabelValue.problem(with: "") != nil)
        #expect(LabelValue.problem(with: String(repeating: "a", count: 128)) == nil)
        #expect(LabelValue.problem(with: String(repeating: "a", count: 129)) != nil)
    }

    @Test func durations() {
        #expect(RuleDuration("30s")?.microseconds == 30_000_000)
        #expect(RuleDuration("10m")?.microseconds == 600_000_000)
        #expect(RuleDuration("24h")?.microseconds == 86_400_000_000)
        #expect(RuleDuration("7d")?.microseconds == 604_800_000_000)
        for bad in ["", "7", "d", "0d", "-1d", "1.5h", "7 d", "1w", "99999d"] { #expect(RuleDuration(bad) == nil) }
    }

    @Test func missingFolderAndEmptyFiles() throws {
        #expect(throws: RuleLoadError.self) { try RuleSet.load(directory: "/nonexistent/rules-folder") }
        let set = try RuleSet.load(
            RuleSources(ruleFiles: [
                RuleSources.File(path: "empty.yaml", text: "# nothing yet\n"),
                RuleSources.File(path: "empty-list.yaml", text: "rules:\n"),
            ]))
        #expect(set.rules.isEmpty)
    }
}
