import ATProto
import Testing

@testable import Rules

/// Subjects, expiry, dry runs, negation, thresholds, rule failures.
@Suite struct EffectsTests {
    @Test func recordAndAccountSubjects() throws {
        let set = try TestSupport.rules(
            """
            rules:
              - {id: rec, on: [post], label: rec, match: {keywords: [x]}}
              - {id: acc, on: [post], label: acc, subject: account, match: {keywords: [x]}}
            """)
        let effects = set.evaluate(TestSupport.post("x"), using: RuleScratch())
        let byValue = Dictionary(uniqueKeysWithValues: effects.labels.map { ($0.value, $0) })
        #expect(
            byValue["rec"]?.subject == .record(try ATURI("at://\(TestSupport.did)/app.bsky.feed.post/3lrecord00000")))
        #expect(byValue["rec"]?.cid == TestSupport.cid)
        #expect(byValue["acc"]?.subject == TestSupport.account)
        #expect(byValue["acc"]?.cid == nil)
        #expect(effects.labels.map(\.ruleID).sorted() == ["acc", "rec"])
    }

    @Test func expiresInSetsExpiryFromTheEventTime() throws {
        let set = try TestSupport.rules(
            "rules:\n  - {id: e, on: [post], label: temp, expires_in: 36h, match: {keywords: [x]}}\n")
        let label = try #require(set.evaluate(TestSupport.post("x"), using: RuleScratch()).labels.first)
        #expect(label.expires == "2025-01-02T12:00:00.000Z")
    }

    @Test func logModeReportsButNeverEmits() throws {
        let set = try TestSupport.rules(
            """
            rules:
              - {id: dry, on: [post], label: maybe, mode: log, on_no_match: negate, match: {keywords: [x]}}
              - {id: uses-dry, on: [post], label: derived, match: {rule: dry}}
            """)
        let hit = set.evaluate(TestSupport.post("x"), using: RuleScratch())
        #expect(hit.dryRun.map(\.value) == ["maybe"])
        #expect(hit.dryRun.first?.negate == false)
        // A dry-run rule still counts as fired for references.
        #expect(hit.labels.map(\.value) == ["derived"])
        let edit = set.evaluate(TestSupport.post("y", action: .update), using: RuleScratch())
        #expect(edit.negations.isEmpty)
        #expect(edit.dryRun.map { "\($0.negate) \($0.value)" } == ["true maybe"])
    }

    @Test func negationOnAnEditThatNoLongerMatchesAndOnDelete() throws {
        let set = try TestSupport.rules(
            """
            rules:
              - {id: neg, on: [post], label: spam, on_no_match: negate, match: {keywords: [x]}}
              - {id: keep, on: [post], label: kept, match: {keywords: [x]}}
              - {id: acc, on: [profile], label: fake, subject: account, on_no_match: negate, match: {keywords: [x]}}
            """)
        let scratch = RuleScratch()
        // A create that does not match has nothing to negate.
        #expect(set.evaluate(TestSupport.post("y"), using: scratch).negations.isEmpty)
        // An update that still matches applies again (the writer de-duplicates).
        #expect(set.evaluate(TestSupport.post("x", action: .update), using: scratch).labels.count == 2)
        let edit = set.evaluate(TestSupport.post("y", action: .update), using: scratch)
        #expect(edit.negations.map(\.value) == ["spam"])
        let negation = try #require(edit.negations.first)
        #expect(negation.negate)
        #expect(negation.cid == TestSupport.previousCID)
        #expect(negation.evidence == nil)
        let delete = set.evaluate(TestSupport.record(Collections.post, nil, action: .delete), using: scratch)
        #expect(delete.negations.map(\.value) == ["spam"])
        #expect(delete.labels.isEmpty)
        let profileDelete = set.evaluate(TestSupport.record(Collections.profile, nil, action: .delete), using: scratch)
        #expect(profileDelete.negations.map(\.subject) == [TestSupport.account])
    }

    @Test func thresholdsCountThisEventAndReportBumps() throws {
        let set = try TestSupport.rules(
            """
            rules:
              - {id: spam, on: [post], label: spam, match: {keywords: [x]}}
              - id: repeat
                on: [post]
                match: {rule: spam}
                threshold: {count: 3, within: 24h}
                label: spam-account
                subject: account
            """)
        let scratch = RuleScratch()
        let below = set.evaluate(TestSupport.post("x"), counts: FixedThresholdCounts(["repeat": 1]), using: scratch)
        #expect(below.labels.map(\.value) == ["spam"])
        #expect(
            below.counterBumps == [
                CounterBump(ruleID: "repeat", did: TestSupport.did, time: TestSupport.time, window: 86_400_000_000)
            ])
        let reached = set.evaluate(TestSupport.post("x"), counts: FixedThresholdCounts(["repeat": 2]), using: scratch)
        #expect(reached.labels.map(\.value) == ["spam", "spam-account"])
        #expect(reached.labels.last?.subject == TestSupport.account)
        // No match, no bump.
        #expect(
            set.evaluate(TestSupport.post("y"), counts: FixedThresholdCounts(["repeat": 9]), using: scratch)
                .counterBumps.isEmpty)
    }

    @Test func thresholdWindowWithInMemoryCounts() throws {
        let set = try TestSupport.rules(
            "rules:\n  - {id: t, on: [post], label: t, threshold: {count: 2, within: 10m}, subject: account, match: {keywords: [x]}}\n"
        )
        var counts = InMemoryThresholdCounts()
        let scratch = RuleScratch()
        func post(at minutes: Int64, did: String = TestSupport.did) -> [String] {
            var context = TestSupport.post("x", did: did)
            context.time = TestSupport.time + minutes * 60_000_000
            let effects = set.evaluate(context, counts: counts, using: scratch)
            counts.record(effects.counterBumps)
            return effects.labels.map(\.value)
        }
        #expect(post(at: 0) == [])
        #expect(post(at: 5) == ["t"])
        #expect(post(at: 30) == [])  // the earlier two are outside the window
        #expect(post(at: 31, did: "did:plc:other") == [])  // counted per account
        #expect(post(at: 32) == ["t"])
    }

    @Test func regexLimitFailsOnlyItsRuleForThisRecord() throws {
        let set = try TestSupport.rules(
            """
            rules:
              - {id: catastrophic, on: [post], label: never, on_no_match: negate, match: {regex: '(a+)+$'}}
              - {id: negated, on: [post], label: odd, match: {not: {regex: '(a+)+$'}}}
              - {id: fine, on: [post], label: fine, match: {keywords: [aaaa], mode: substring}}
            """)
        let text = String(repeating: "a", count: 40) + "b"
        let effects = set.evaluate(TestSupport.post(text, action: .update), using: RuleScratch())
        #expect(effects.labels.map(\.value) == ["fine"])
        #expect(effects.negations.isEmpty)  // a failed rule neither fires nor negates
        #expect(effects.failures.map(\.ruleID) == ["catastrophic", "negated"])
        let failure = try #require(effects.failures.first)
        #expect(failure.uri == "at://\(TestSupport.did)/app.bsky.feed.post/3lrecord00000")
        #expect(failure.pattern == "(a+)+$")
        #expect(failure.reason.contains("limit"))
    }

    /// Contexts built from text (not from the stream, whose DIDs and paths are checked when
    /// decoded) may not make a valid subject: the rule's label is then a failure, not a label
    /// on garbage.
    @Test func aLabelWhoseSubjectIsNotValidIsAFailure() throws {
        let set = try TestSupport.rules(
            """
            rules:
              - {id: rec, on: [post], label: rec, on_no_match: negate, match: {keywords: [x]}}
              - {id: acc, on: [post], label: acc, subject: account, match: {keywords: [x]}}
            """)
        let badAccount = TestSupport.post("x", did: "did:plc:has space")
        let effects = set.evaluate(badAccount, using: RuleScratch())
        #expect(effects.labels.isEmpty)
        #expect(effects.fired.map(\.ruleID).sorted() == ["acc", "rec"])
        #expect(effects.failures.map(\.ruleID).sorted() == ["acc", "rec"])
        #expect(effects.failures.allSatisfy { $0.pattern == nil && $0.reason.hasPrefix("invalid ") })
        #expect(effects.failures.first?.description.contains("(regex") == false)

        let badRecordKey = TestSupport.record(Collections.post, nil, action: .delete, rkey: "has/slash")
        let negation = set.evaluate(badRecordKey, using: RuleScratch())
        #expect(negation.negations.isEmpty)
        #expect(negation.failures.map(\.ruleID) == ["rec"])
        #expect(negation.failures.first?.reason.hasPrefix("invalid label subject") == true)
    }

    @Test func missingRecordAndEmptySets() throws {
        let set = try TestSupport.rules("rules:\n  - {id: n, on: [post], label: n, match: {not: {keywords: [x]}}}\n")
        #expect(set.evaluate(TestSupport.record(Collections.post, nil, action: .create), using: RuleScratch()).isEmpty)
        #expect(RuleSet.empty.evaluate(TestSupport.post("x"), using: RuleScratch()).isEmpty)
        // A `not` rule has no gate: it fires on records without the keyword.
        #expect(TestSupport.labels(set, TestSupport.post("y")) == ["n"])
    }

    @Test func firedListsHelperRulesWithoutLabels() throws {
        let set = try TestSupport.rules(
            "rules:\n  - {id: helper, on: [post], match: {keywords: [x]}}\n  - {id: user, on: [post], label: u, match: {rule: helper}}\n"
        )
        let effects = set.evaluate(TestSupport.post("x"), using: RuleScratch())
        #expect(effects.fired.map(\.ruleID) == ["helper", "user"])
        #expect(effects.labels.map(\.ruleID) == ["user"])
        #expect(effects.fired.first?.evidence?.text == "x")
    }
}
