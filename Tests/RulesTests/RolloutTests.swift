import ATProto
import Testing

@testable import Rules

/// `rollout:`: which accounts a canary covers, and how its labels are routed.
@Suite struct RolloutTests {
    /// Random-looking did:plc DIDs from a fixed seed.
    static func dids(_ count: Int, seed: UInt64 = 0x5eed) -> [String] {
        var state = seed
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567")
        return (0..<count).map { _ in
            var did = "did:plc:"
            for _ in 0..<24 {
                // SplitMix64, so the DIDs are the same on every run.
                state &+= 0x9e37_79b9_7f4a_7c15
                var z = state
                z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
                z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
                z ^= z >> 31
                did.append(alphabet[Int(z % 32)])
            }
            return did
        }
    }

    @Test func parsesPercentagesWithUpToTwoDecimals() {
        #expect(Rollout("10%")?.basisPoints == 1_000)
        #expect(Rollout("0.5%")?.basisPoints == 50)
        #expect(Rollout("12.25%")?.basisPoints == 1_225)
        #expect(Rollout("0%")?.basisPoints == 0)
        #expect(Rollout("100%")?.basisPoints == 10_000)
        #expect(Rollout("100.00%")?.basisPoints == 10_000)
        for bad in ["101%", "100.01%", "10", "ten%", "-1%", "+5%", "0.005%", "%", "1.%", ".5%", "1e1%", " 10%", ""] {
            #expect(Rollout(bad) == nil, "\(bad)")
        }
        #expect(
            ["10%", "0.5%", "12.25%", "0.05%", "100%"].map { Rollout($0)!.description }
                == ["10%", "0.5%", "12.25%", "0.05%", "100%"])
    }

    @Test func theShareCoveredIsCloseToThePercentage() {
        let dids = Self.dids(20_000)
        for (percent, tolerance) in [("10%", 0.75), ("50%", 1.25), ("0.5%", 0.2)] {
            let rollout = Rollout(percent)!
            let share = Double(dids.filter { rollout.covers(did: $0) }.count) * 100 / Double(dids.count)
            let wanted = Double(rollout.basisPoints) / 100
            #expect(abs(share - wanted) <= tolerance, "\(percent): \(share)% of accounts")
        }
    }

    @Test func anAccountsChoiceIsStableAndOnlyGrowsWithTheShare() {
        // FNV-1a 64 of the UTF-8 bytes, mod 10 000: the same on every machine and every run.
        #expect(Rollout.bucket(of: "did:plc:ewvi7nxzyoun6zhxrhs64oiz") == 3_081)
        #expect(Rollout.bucket(of: "did:web:example.com") == 2_413)
        #expect(Rollout.bucket(of: TestSupport.did) == 6_568)
        let dids = Self.dids(2_000, seed: 7)
        let ten = Rollout("10%")!
        let twenty = Rollout("20%")!
        #expect(dids.map { ten.covers(did: $0) } == dids.map { ten.covers(did: $0) })
        #expect(dids.allSatisfy { !ten.covers(did: $0) || twenty.covers(did: $0) })
    }

    @Test func zeroCoversNoAccountAndAHundredEvery() {
        let dids = Self.dids(5_000, seed: 11)
        #expect(dids.allSatisfy { !Rollout("0%")!.covers(did: $0) })
        #expect(dids.allSatisfy { Rollout("100%")!.covers(did: $0) })
    }

    static func set(_ rollout: String) throws -> RuleSet {
        try TestSupport.rules(
            """
            rules:
              - {id: canary, on: [post], label: spam, on_no_match: negate, rollout: \(rollout), match: {keywords: [x]}}
              - {id: acc, on: [post], label: spammer, subject: account, rollout: \(rollout), match: {keywords: [x]}}
              - {id: uses-canary, on: [post], label: derived, match: {rule: canary}}
            """)
    }

    @Test func accountsOutsideTheRolloutGetDryRuns() throws {
        let set = try Self.set("50%")
        let inside = "did:web:example.com"  // bucket 2413
        let outside = TestSupport.did  // bucket 6568
        let scratch = RuleScratch()

        let covered = set.evaluate(TestSupport.post("x", did: inside), using: scratch)
        #expect(covered.labels.map(\.value).sorted() == ["derived", "spam", "spammer"])
        #expect(covered.dryRun.isEmpty)
        let left = set.evaluate(TestSupport.post("x", did: outside), using: scratch)
        #expect(left.dryRun.map(\.value).sorted() == ["spam", "spammer"])
        // A canary counts as fired for references, as a dry-run rule does.
        #expect(left.labels.map(\.value) == ["derived"])

        let edit = set.evaluate(TestSupport.post("y", action: .update, did: inside), using: scratch)
        #expect(edit.negations.map(\.value) == ["spam"])
        let outsideEdit = set.evaluate(TestSupport.post("y", action: .update, did: outside), using: scratch)
        #expect(outsideEdit.negations.isEmpty)
        #expect(outsideEdit.dryRun.map { "\($0.negate) \($0.value)" } == ["true spam"])
    }

    @Test func zeroAndHundredPercent() throws {
        let scratch = RuleScratch()
        for did in Self.dids(50, seed: 3) {
            let none = try Self.set("0%").evaluate(TestSupport.post("x", did: did), using: scratch)
            #expect(none.labels.map(\.value) == ["derived"])
            #expect(none.dryRun.count == 2)
            let all = try Self.set("100%").evaluate(TestSupport.post("x", did: did), using: scratch)
            #expect(all.labels.count == 3)
            #expect(all.dryRun.isEmpty)
        }
    }

    @Test func badRolloutsAndMinimumsPointAtTheirValue() {
        let problems = TestSupport.problems([
            "rules/r.yaml": """
            rules:
              - id: a
                on: [post]
                match: {keywords: [x]}
                label: spam
                rollout: 150%
                min_precision: 1.5
                min_recall: high
              - id: b
                on: [post]
                match: {keywords: [x]}
                label: spam
                rollout: 10
                min_precision: [0.9]
              - id: c
                on: [post]
                match: {keywords: [x]}
                rollout: 0.001%
                min_recall: 0.8
            """
        ])
        #expect(
            problems == [
                "rules/r.yaml:6:14: invalid rollout '150%': a rule cannot cover more than 100% of accounts",
                "rules/r.yaml:7:20: min_precision 1.5 is out of range: use a number from 0 to 1 (0.9 for 90%)",
                "rules/r.yaml:8:17: min_recall must be a number from 0 to 1 (such as 0.9), not 'high'",
                "rules/r.yaml:13:14: invalid rollout '10': write it as a percentage of accounts, such as 10% or 0.5%",
                "rules/r.yaml:14:20: min_precision must be a number from 0 to 1 (such as 0.9), not a list",
                "rules/r.yaml:18:5: rollout needs a 'label' to roll out",
                "rules/r.yaml:18:14: invalid rollout '0.001%': use a percentage of accounts from 0% to 100% with at most two decimals, such as 10% or 0.5%",
                "rules/r.yaml:19:5: min_recall needs a 'label': it is measured on the samples that expect the rule's label value",
            ])
    }

    @Test func rolloutAndMinimumsAreKeptOnTheRule() throws {
        let set = try TestSupport.rules(
            "rules:\n  - {id: a, on: [post], label: spam, rollout: 0.5%, min_precision: 0.9, min_recall: 1, match: {keywords: [x]}}\n"
        )
        let info = try #require(set.rule("a"))
        #expect(info.rollout == Rollout(basisPoints: 50))
        #expect(info.minimums == QualityMinimums(precision: 0.9, recall: 1))
    }
}
