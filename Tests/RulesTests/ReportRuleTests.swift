import ATProto
import Rules
import Testing

/// Rules on reports (`on: [report]`): reason types, the reporter's standing, the reason text,
/// thresholds over distinct reporters, `negate:` and `escalate:`.
@Suite struct ReportRuleTests {
    static let post = "at://did:plc:reportedaaaaaaaaaaaaaaaa/app.bsky.feed.post/3lpost0000000"
    static let reported = "did:plc:reportedaaaaaaaaaaaaaaaa"
    static let reporter = "did:plc:reporteraaaaaaaaaaaaaaaa"
    static let cid = TestSupport.cid

    static func report(
        _ reasonType: String = "com.atproto.moderation.defs#reasonSpam", reason: String = "",
        subject: String = post, muted: Bool = false, dismissed: Int = 0
    ) -> RecordContext {
        RecordContext.report(
            ReportFacts(
                id: 1, reasonType: reasonType, reason: reason, reporter: reporter, reporterMuted: muted,
                reporterDismissed: dismissed),
            subject: subject, cid: subject.hasPrefix("at://") ? cid : nil, time: TestSupport.time)
    }

    static func fires(_ yaml: String, _ context: RecordContext, counts: some ThresholdCounts = NoThresholdCounts())
        throws -> Bool
    {
        !(try TestSupport.rules(yaml).evaluate(context, counts: counts, using: RuleScratch()).fired.isEmpty)
    }

    static func rule(_ match: String, extra: String = "label: needs-review") -> String {
        """
        rules:
          - id: r
            on: [report]
            match: \(match)
            \(extra)
        """
    }

    @Test func reasonTypesByShortNamePrefixAndFullValue() throws {
        let spam = Self.rule("{reason_types: [spam]}")
        #expect(try Self.fires(spam, Self.report("com.atproto.moderation.defs#reasonSpam")))
        #expect(try !Self.fires(spam, Self.report("tools.ozone.report.defs#reasonMisleadingSpam")))
        #expect(try !Self.fires(spam, Self.report("com.atproto.moderation.defs#reasonRude")))

        let misleading = Self.rule("{reason_types: [Misleading*]}")
        #expect(try Self.fires(misleading, Self.report("com.atproto.moderation.defs#reasonMisleading")))
        #expect(try Self.fires(misleading, Self.report("tools.ozone.report.defs#reasonMisleadingScam")))
        #expect(try !Self.fires(misleading, Self.report("com.atproto.moderation.defs#reasonSpam")))

        let appeal = Self.rule("{reason_types: [appeal]}", extra: "escalate: true")
        #expect(try Self.fires(appeal, Self.report("com.atproto.moderation.defs#reasonAppeal")))
        #expect(try Self.fires(appeal, Self.report("tools.ozone.report.defs#reasonAppeal")))

        let full = Self.rule("{reason_types: [tools.ozone.report.defs#reasonChildSafetyCSAM]}")
        #expect(try Self.fires(full, Self.report("tools.ozone.report.defs#reasonChildSafetyCSAM")))
        #expect(try !Self.fires(full, Self.report("tools.ozone.report.defs#reasonChildSafetyGroom")))
    }

    @Test func theReportersStanding() throws {
        let trusted = Self.rule("{reporter: {dismissed_at_most: 2}}")
        #expect(try Self.fires(trusted, Self.report(dismissed: 2)))
        #expect(try !Self.fires(trusted, Self.report(dismissed: 3)))
        let doubtful = Self.rule("{reporter: {dismissed_at_least: 3}}")
        #expect(try Self.fires(doubtful, Self.report(dismissed: 3)))
        #expect(try !Self.fires(doubtful, Self.report(dismissed: 0)))

        // Muted reporters' reports are out of every rule that does not ask for them.
        let anyone = Self.rule("{reason_types: [spam]}")
        #expect(try Self.fires(anyone, Self.report()))
        #expect(try !Self.fires(anyone, Self.report(muted: true)))
        let notMuted = Self.rule("{reporter: {muted: false}}")
        #expect(try Self.fires(notMuted, Self.report()))
        #expect(try !Self.fires(notMuted, Self.report(muted: true)))
        let onlyMuted = Self.rule("{reporter: {muted: true}}", extra: "mode: log")
        #expect(try Self.fires(onlyMuted, Self.report(muted: true)))
        #expect(try !Self.fires(onlyMuted, Self.report()))
        let either = Self.rule("{all: [{reason_types: [spam]}, {reporter: {muted: any}}]}")
        #expect(try Self.fires(either, Self.report(muted: true)))
        #expect(try Self.fires(either, Self.report()))
    }

    @Test func theReasonTextIsMatchedLikeAnyText() throws {
        let regex = Self.rule(#"{regex: "\\bchild\\b", case_insensitive: true}"#)
        #expect(try Self.fires(regex, Self.report(reason: "This involves a CHILD, please look")))
        #expect(try !Self.fires(regex, Self.report(reason: "children's book")))
        #expect(try !Self.fires(regex, Self.report(reason: "")))
        let keywords = Self.rule("{keywords: [doxxing, address], in: [reason]}")
        let effects = try TestSupport.rules(keywords).evaluate(
            Self.report(reason: "they posted my home address"), using: RuleScratch())
        #expect(effects.fired.first?.evidence?.field == .reason)
        #expect(effects.fired.first?.evidence?.text == "address")
        // A post with the same words never runs a report rule, nor a report a post rule.
        #expect(try !Self.fires(keywords, TestSupport.post("my home address")))
        let postRule = """
            rules:
              - id: p
                on: [post]
                match: {keywords: [address]}
                label: x
            """
        #expect(try !Self.fires(postRule, Self.report(reason: "address")))
    }

    @Test func labelsGoOnTheReportedSubject() throws {
        let set = try TestSupport.rules(
            Self.rule("{reason_types: [spam]}", extra: "label: needs-review\n    expires_in: 7d"))
        let onRecord = set.evaluate(Self.report(), using: RuleScratch())
        #expect(onRecord.labels.map(\.subject) == [try LabelSubject(Self.post)])
        #expect(onRecord.labels.first?.cid == Self.cid)
        #expect(onRecord.labels.first?.expires == Datetime.format(unixMicros: TestSupport.time + 7 * 86_400_000_000))
        let onAccount = set.evaluate(Self.report(subject: Self.reported), using: RuleScratch())
        #expect(onAccount.labels.map(\.subject) == [.account(try DID(Self.reported))])
        #expect(onAccount.labels.first?.cid == nil)

        let owner = try TestSupport.rules(
            Self.rule("{reason_types: [spam]}", extra: "label: reported-account\n    subject: account"))
        #expect(
            owner.evaluate(Self.report(), using: RuleScratch()).labels.map(\.subject) == [
                .account(try DID(Self.reported))
            ])
    }

    @Test func negateTakesALabelBackAndLogOnlySays() throws {
        let negate = try TestSupport.rules(Self.rule("{reason_types: [appeal]}", extra: "negate: spam"))
        let effects = negate.evaluate(Self.report("com.atproto.moderation.defs#reasonAppeal"), using: RuleScratch())
        #expect(effects.labels.isEmpty)
        #expect(effects.negations.map(\.value) == ["spam"])
        #expect(effects.negations.first?.negate == true && effects.negations.first?.cid == Self.cid)
        #expect(negate.rules[0].negatesLabel)

        let log = try TestSupport.rules(Self.rule("{reason_types: [spam]}", extra: "label: x\n    mode: log"))
        let logged = log.evaluate(Self.report(), using: RuleScratch())
        #expect(logged.labels.isEmpty && logged.dryRun.map(\.value) == ["x"])
    }

    /// The engine counts this report's reporter on top of the others the caller counted.
    @Test func aThresholdCountsReporters() throws {
        let yaml = Self.rule(
            "{reason_types: [spam]}",
            extra: "label: needs-review\n    escalate: true\n    threshold: {count: 5, within: 24h}")
        let set = try TestSupport.rules(yaml)
        #expect(set.rules[0].escalates)
        let four = set.evaluate(Self.report(), counts: FixedThresholdCounts(["r": 3]), using: RuleScratch())
        #expect(four.fired.isEmpty && four.labels.isEmpty)
        #expect(four.counterBumps.map(\.ruleID) == ["r"] && four.counterBumps.first?.window == 86_400_000_000)
        let five = set.evaluate(Self.report(), counts: FixedThresholdCounts(["r": 4]), using: RuleScratch())
        #expect(five.fired.map(\.ruleID) == ["r"] && five.labels.map(\.value) == ["needs-review"])
    }

    @Test func mistakesSayWhereAndWhat() {
        func problems(_ yaml: String) -> [String] { TestSupport.problems(["rules/a.yaml": yaml]) }
        let mixed = """
            rules:
              - id: r
                on: [post, report]
                match: {reason_types: [spam]}
                label: x
            """
        #expect(
            problems(mixed) == [
                "rules/a.yaml:3:9: 'report' cannot be combined with other kinds in one rule: reports and records are "
                    + "different events (write two rules)"
            ])
        let onPosts = """
            rules:
              - id: r
                on: [post]
                match: {all: [{reason_types: [spam]}, {reporter: {muted: false}}]}
                negate: x
                escalate: true
            """
        #expect(
            problems(onPosts) == [
                "rules/a.yaml:4:34: reason_types applies to report rules only (on: [report])",
                "rules/a.yaml:4:54: reporter applies to report rules only (on: [report])",
                "rules/a.yaml:5:13: negate: applies to report rules (on: [report]); a record rule takes its label "
                    + "back with on_no_match: negate",
                "rules/a.yaml:6:15: escalate applies to report rules (on: [report]), which have reports to escalate",
            ])
        let unknown = problems(Self.rule("{reason_types: [spamm, com.example#reasonX]}"))
        #expect(unknown.count == 2)
        #expect(unknown.first?.hasPrefix("rules/a.yaml:4:28: unknown reason type 'spamm'") == true)
        #expect(unknown.first?.hasSuffix("; did you mean 'spam'?") == true, "\(unknown)")
        #expect(unknown.last?.hasPrefix("rules/a.yaml:4:35: unknown reason type 'com.example#reasonX'") == true)
        #expect(
            problems(Self.rule("{reason_types: [spam]}", extra: "label: x\n    negate: y")) == [
                "rules/a.yaml:6:13: a rule either applies a label or negates one: use 'label' or 'negate', not both"
            ])
        #expect(
            problems(Self.rule("{reason_types: [spam]}", extra: "label: x\n    on_no_match: negate")) == [
                "rules/a.yaml:6:18: on_no_match does not apply to reports (a report is never updated); use negate: VALUE"
            ])
        #expect(
            problems(Self.rule("{keywords: [x], in: [text]}")) == [
                "rules/a.yaml:4:33: field 'text' does not exist on reports; report fields are any_text, reason"
            ])
        #expect(
            problems(Self.rule("{reporter: {}}")) == [
                "rules/a.yaml:4:23: reporter needs muted, dismissed_at_most or dismissed_at_least"
            ])
        #expect(
            problems(Self.rule("{reporter: {muted: sometimes}}")) == [
                "rules/a.yaml:4:31: reporter muted (true, false or any) must be true or false"
            ])
        #expect(problems(Self.rule("{reason_types: [spam]}", extra: "label: x\n    subject: account")).isEmpty)
    }

    /// `rules test` cases for report rules: a `report:` case, with `expect_escalate`.
    @Test func reportCasesInRuleTests() throws {
        let set = try TestSupport.rules(
            """
            rules:
              - id: pile-up
                on: [report]
                match: {reason_types: [spam]}
                threshold: {count: 3, within: 24h}
                label: needs-review
                escalate: true
            """)
        let cases = try RuleTestSuite.load(files: [
            RuleSources.File(
                path: "tests/t.yaml",
                text: """
                    cases:
                      - name: third reporter
                        report: {reason_type: spam, reason: "scam", subject: "did:plc:reportedaaaaaaaaaaaaaaaa"}
                        counts: {pile-up: 2}
                        expect: [needs-review]
                        expect_escalate: true
                      - name: second reporter
                        report: {reason_type: com.atproto.moderation.defs#reasonSpam}
                        counts: {pile-up: 1}
                        expect: none
                        expect_escalate: false
                      - name: muted
                        report: {reason_type: spam, muted: true}
                        counts: {pile-up: 2}
                        expect: none
                      - name: wrong
                        report: {reason_type: rude}
                        expect: none
                        expect_escalate: true
                    """)
        ])
        let results = RuleTestRunner.run(cases, with: set)
        #expect(results.map(\.passed) == [true, true, true, false])
        #expect(results.last?.mismatches == ["expect_escalate: true  got: false"])
        #expect(cases[0].context.uri == Self.reported)
        #expect(cases[1].context.uri == "at://\(RuleTestSuite.defaultDID)/app.bsky.feed.post/3ltestrecord22")

    }

    /// Each mistake in a report case is named where it is.
    @Test(arguments: [
        (
            "- text: hi\n    expect: none\n    expect_escalate: true",
            "tests/bad.yaml:4:22: expect_escalate goes with a report case"
        ),
        (
            "- report: {reason_type: nonsense}\n    expect: none",
            "tests/bad.yaml:2:27: unknown reason type 'nonsense': use a short name such as spam, or a full one"
        ),
        (
            "- report: {subject: \"not a subject\"}\n    expect: none",
            "tests/bad.yaml:2:23: 'not a subject' is not a DID or an at:// record URI"
        ),
    ])
    func reportCaseMistakesSayWhereAndWhat(yaml: String, problem: String) {
        do {
            _ = try RuleTestSuite.load(files: [RuleSources.File(path: "tests/bad.yaml", text: "cases:\n  " + yaml)])
            Issue.record("no error for \(yaml)")
        } catch {
            #expect(error.diagnostics.map(\.description) == [problem])
        }
    }

    /// More mistakes in report rules, each named where it is.
    @Test(arguments: [
        ("{reason_types: []}", "label: needs-review", "rules/a.yaml:4:27: reason_types needs at least one reason type"),
        (
            "{reason_types: [zzz*]}", "label: needs-review",
            "rules/a.yaml:4:28: unknown reason type 'zzz*': use a short name such as spam, violation, misleading, "
                + "sexual, rude, other or appeal, a prefix with '*' (misleading*), or a full reason type"
        ),
        (
            "{reporter: {dismissed_at_most: -1}}", "label: needs-review",
            "rules/a.yaml:4:43: reporter dismissed_at_most cannot be negative"
        ),
        (
            "{reason_types: [spam]}", "negate: Bad Value",
            "rules/a.yaml:5:13: invalid label value 'Bad Value': use lowercase letters a-z and '-' only"
        ),
        ("{reason_types: [spam]}", "escalate: maybe", "rules/a.yaml:5:15: escalate must be true or false"),
        (
            "{reason_types: [spam]}", "negate: x\n    expires_in: 7d",
            "rules/a.yaml:6:17: expires_in needs a 'label' to expire"
        ),
    ])
    func moreMistakesSayWhereAndWhat(match: String, extra: String, problem: String) {
        #expect(TestSupport.problems(["rules/a.yaml": Self.rule(match, extra: extra)]) == [problem])
    }

    @Test func anUnknownReporterKeyIsNamed() {
        #expect(
            TestSupport.problems(["rules/a.yaml": Self.rule("{reporter: {trusted: true}}")]) == [
                "rules/a.yaml:4:23: reporter needs muted, dismissed_at_most or dismissed_at_least",
                "rules/a.yaml:4:24: unknown key 'trusted' in reporter",
            ])
    }
}
