import ATCrypto
import ATProto
import Foundation
import LabelServer
import Rules
import Synchronization
import TestNetwork
import TestSupport
import Testing

@testable import LabelStore
@testable import Labeler

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The rules on reports as the service runs them: thresholds over distinct reporters within a
/// window, muted reporters left out, escalation, labels through the writer with the report in
/// their history, and a report evaluated again after a crash changing nothing.
@Suite struct ReportRuleRunnerTests {
    static let rules = """
        rules:
          - id: pile-up
            on: [report]
            match: {reason_types: [spam, misleading*]}
            threshold: {count: 3, within: 24h}
            label: needs-review
            escalate: true
          - id: doxxing
            on: [report]
            match: {keywords: [address], in: [reason]}
            escalate: true
          - id: appeal-lifts
            on: [report]
            match: {reason_types: [appeal]}
            negate: needs-review
        """
    static let subject = ReportSubject.record(
        uri: "at://did:plc:reportedaaaaaaaaaaaaaaaa/app.bsky.feed.post/3lpost0000000",
        cid: "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm")
    static let spam = "com.atproto.moderation.defs#reasonSpam"
    static let now = "2026-06-02T12:00:00.000Z"

    /// A store, a running writer and a runner over `rules`.
    struct Fixture {
        let store: LabelStore
        let writer: LabelWriter
        let writing: Task<Void, Never>
        let runner: ReportRuleRunner

        init(
            rules: String = ReportRuleRunnerTests.rules, path: String = temporaryPath("report-rules.sqlite"),
            failAfterCommit: Int = 0
        ) throws {
            store = try LabelStore(path: path)
            writer = try LabelWriter(
                store: store, src: "did:plc:labeleraaaaaaaaaaaaaaaaa", key: .generate(.secp256k1),
                logger: quietLogger())
            let writer = self.writer
            writing = Task { await writer.run() }
            let set = try RuleSet.load(RuleSources(ruleFiles: [.init(path: "rules/r.yaml", text: rules)]))
            // `failAfterCommit`: that many submissions are committed and then reported as failed,
            // as a crash between the writer's commit and the runner's own transaction would.
            let failures = Mutex(failAfterCommit)
            runner = ReportRuleRunner(
                store: store, holder: RuleSetHolder(set),
                submit: { changes in
                    let stored = try await writer.submit(changes)
                    let fail = failures.withLock { left in
                        defer { left = max(0, left - 1) }
                        return left > 0
                    }
                    if fail { throw SimulatedCrash() }
                    return stored
                },
                logger: quietLogger())
        }

        func file(
            _ reporter: String, _ reasonType: String = ReportRuleRunnerTests.spam, reason: String? = nil,
            subject: ReportSubject = ReportRuleRunnerTests.subject, at time: String = ReportRuleRunnerTests.now
        )
            throws -> StoredReport
        {
            try store.fileReport(
                NewReport(
                    reasonType: reasonType, reason: reason, subject: subject, reportedBy: reporter, createdAt: time)
            ).report
        }

        /// The label rows on the subject, as `val` and `neg`.
        func labels() throws -> [String] {
            try store.labels(after: 0, limit: 100).map { ($0.label.isNegation ? "-" : "") + $0.label.val }
        }

        func stop() async {
            writing.cancel()
            await writing.value
        }
    }

    struct SimulatedCrash: Error {}

    static func reporter(_ name: String) -> String { "did:plc:reporter" + name + String(repeating: "a", count: 16) }

    @Test func distinctReportersWithinTheWindowLabelAndEscalate() async throws {
        let f = try Fixture()
        let (a, b, c, d, muted) = (
            Self.reporter("a"), Self.reporter("b"), Self.reporter("c"), Self.reporter("d"), Self.reporter("m")
        )
        // c reported 25 hours earlier: outside the window by the time the others do.
        let old = try f.file(c, at: "2026-06-01T11:00:00.000Z")
        try f.store.muteReporter(muted, until: nil, actor: "mod", note: nil, at: "2026-06-01T00:00:00.000Z")
        let first = try f.file(a)
        _ = try f.file(a, "com.atproto.moderation.defs#reasonMisleading")  // a repeat: the same report
        let ignored = try f.file(muted)
        let second = try f.file(b, "tools.ozone.report.defs#reasonMisleadingScam")
        #expect(try await f.runner.evaluateWaiting() == 4)
        #expect(try f.labels().isEmpty)
        #expect(try f.store.reports(state: .open).count == 3)

        let third = try f.file(d)
        #expect(try await f.runner.evaluateWaiting() == 1)
        #expect(try f.labels() == ["needs-review"])
        let history = try f.store.history(of: try LabelSubject(Self.subject.key))
        #expect(history.map(\.reportID) == [third.id])
        #expect(history.first?.ruleID == "pile-up")
        #expect(history.first?.reason == "reason type spam")
        #expect(try f.store.labels(after: 0, limit: 10).first?.label.cid == Self.subject.cid)
        // The three reports that made the count are escalated, each with the rule in its history;
        // the old one and the muted one are not.
        #expect(Set(try f.store.reports(state: .escalated).map(\.id)) == [first.id, second.id, third.id])
        #expect(try f.store.reports(state: .open).map(\.id) == [old.id])
        #expect(try f.store.reports(state: .open, muted: true).map(\.id) == [ignored.id])
        let action = try #require(try f.store.reportActions(id: first.id).last)
        #expect(
            action.action == "escalated" && action.actor == "rule:pile-up" && action.note == "with report \(third.id)")
        #expect(f.runner.totals.fired == ["pile-up": 1] && f.runner.totals.escalated == 3)

        // A fourth reporter changes nothing more: the label is there already.
        _ = try f.file(Self.reporter("e"))
        #expect(try await f.runner.evaluateWaiting() == 1)
        #expect(try f.labels() == ["needs-review"])

        // The reported account appeals: the rule negates the label (the negation replaces the
        // label's row on the stream).
        _ = try f.file("did:plc:reportedaaaaaaaaaaaaaaaa", "com.atproto.moderation.defs#reasonAppeal")
        #expect(try await f.runner.evaluateWaiting() == 1)
        #expect(try f.labels() == ["-needs-review"])
        #expect(
            try f.store.history(of: try LabelSubject(Self.subject.key)).map(\.ruleID) == ["pile-up", "appeal-lifts"])
        await f.stop()
    }

    @Test func aReasonTextEscalatesOnItsOwn() async throws {
        let f = try Fixture()
        let report = try f.file(
            Self.reporter("a"), "com.atproto.moderation.defs#reasonOther", reason: "they posted my home ADDRESS")
        let other = try f.file(Self.reporter("b"), "com.atproto.moderation.defs#reasonOther", reason: "rude")
        #expect(try await f.runner.evaluateWaiting() == 2)
        #expect(try f.store.report(id: report.id)?.state == .escalated)
        #expect(try f.store.report(id: other.id)?.state == .open)
        #expect(try f.labels().isEmpty)
        #expect(try f.store.reportsAwaitingRules().isEmpty)
        await f.stop()
    }

    /// A crash after the writer committed a report's labels and before the report was marked
    /// evaluated: after the restart it is evaluated again and nothing is added twice.
    @Test func aReportEvaluatedAgainAfterACrashChangesNothing() async throws {
        let path = temporaryPath("report-rules-crash.sqlite")
        let f = try Fixture(path: path)
        var last: StoredReport?
        for name in ["a", "b", "c"] { last = try f.file(Self.reporter(name)) }
        #expect(try await f.runner.evaluateWaiting() == 3)
        let labels = try f.labels()
        let actions = try f.store.reportActions(id: try #require(last).id)
        #expect(labels == ["needs-review"])
        await f.stop()

        let store = try LabelStore(path: path)
        let id = try #require(last).id
        try await store.pool.write { db in
            try db.execute(sql: "UPDATE report SET rules_pending = 1 WHERE id = ?", arguments: [id])
        }
        let again = try Fixture(path: path)
        #expect(try again.store.reportsAwaitingRules().map(\.id) == [last!.id])
        #expect(try await again.runner.evaluateWaiting() == 1)
        #expect(try again.labels() == labels)
        #expect(try again.store.reportActions(id: last!.id) == actions)
        #expect(try again.store.reportsAwaitingRules().isEmpty)
        await again.stop()
    }

    /// The writer committed a report's labels, then the runner failed before its own
    /// transaction: the report is still waiting, and evaluating it again adds no label row,
    /// counts no hit twice and escalates as the first attempt would have.
    @Test func failingBetweenTheWritersCommitAndTheRunnersTransactionChangesNothingTwice() async throws {
        let rules = """
            rules:
              - id: pile-up
                on: [report]
                match: {reason_types: [spam]}
                threshold: {count: 2, within: 24h}
                label: needs-review
                expires_in: 7d
                escalate: true
            """
        let f = try Fixture(rules: rules, failAfterCommit: 1)
        let first = try f.file(Self.reporter("a"))
        let second = try f.file(Self.reporter("b"))
        // The first report is a hit and needs no label; the second's label is committed, then
        // the runner fails.
        await #expect(throws: ReportFailure.self) { try await f.runner.evaluateWaiting() }
        #expect(try f.labels() == ["needs-review"])  // committed by the writer
        #expect(try f.store.reportsAwaitingRules().map(\.id) == [second.id])
        #expect(try f.store.report(id: second.id)?.state == .open)
        let rows = try f.store.labels(after: 0, limit: 10)

        #expect(try await f.runner.evaluateWaiting() == 1)
        #expect(try f.store.labels(after: 0, limit: 10) == rows)  // the same row, the same exp
        #expect(try f.store.history(of: try LabelSubject(Self.subject.key)).count == 1)
        #expect(Set(try f.store.reports(state: .escalated).map(\.id)) == [first.id, second.id])
        #expect(
            try f.store.reportRuleReporters(rule: "pile-up", subject: Self.subject.key, since: 0, excluding: "") == 2)
        await f.stop()
    }

    /// A rule that sees muted reporters counts and escalates their reports like anyone's; a
    /// report a person dismissed stops counting.
    @Test func mutedReportersWhenAskedForAndDismissedReportsNoLonger() async throws {
        let rules = """
            rules:
              - id: pile-up
                on: [report]
                match: {reporter: {muted: any}}
                threshold: {count: 3, within: 24h}
                label: needs-review
                escalate: true
            """
        let f = try Fixture(rules: rules)
        let muted = Self.reporter("m")
        try f.store.muteReporter(muted, until: nil, actor: "mod", note: nil, at: "2026-06-01T00:00:00.000Z")
        let a = try f.file(Self.reporter("a"))
        let m = try f.file(muted)
        #expect(try await f.runner.evaluateWaiting() == 2)
        _ = try f.store.closeReport(id: a.id, as: .dismissed, actor: "mod", note: nil, outcome: nil, at: Self.now)
        let b = try f.file(Self.reporter("b"))
        #expect(try await f.runner.evaluateWaiting() == 1)
        #expect(try f.labels().isEmpty)  // a's report was dismissed: m and b are two
        let c = try f.file(Self.reporter("c"))
        #expect(try await f.runner.evaluateWaiting() == 1)
        #expect(try f.labels() == ["needs-review"])
        #expect(Set(try f.store.reports(state: .escalated).map(\.id)) == [b.id, c.id])
        #expect(try f.store.reports(state: .escalated, muted: true).map(\.id) == [m.id])
        await f.stop()
    }

    /// With `subject: account`, reports of different records of one account count together, and
    /// a rule's `negate:` takes back the label on every version it is on.
    @Test func accountThresholdsAndNegationsOfEveryVersion() async throws {
        let rules = """
            rules:
              - id: account-pile-up
                on: [report]
                match: {reason_types: [spam]}
                threshold: {count: 3, within: 24h}
                subject: account
                label: spam-account
              - id: appeal
                on: [report]
                match: {reason_types: [appeal]}
                negate: spam
            """
        let f = try Fixture(rules: rules)
        let owner = "did:plc:reportedaaaaaaaaaaaaaaaa"
        for (n, name) in ["a", "b", "c"].enumerated() {
            _ = try f.file(
                Self.reporter(name),
                subject: .record(uri: "at://\(owner)/app.bsky.feed.post/3lpost000000\(n)", cid: Self.subject.cid))
        }
        #expect(try await f.runner.evaluateWaiting() == 3)
        #expect(
            try f.store.labels(after: 0, limit: 10).map { "\($0.label.uri) \($0.label.val)" } == [
                "\(owner) spam-account"
            ])

        // The label was applied by hand on another version of the post, and on none.
        let subject = try LabelSubject(Self.subject.key)
        _ = try await f.writer.submit([
            LabelChange(
                action: .apply, subject: subject, cid: "bafyreiothercid", val: "spam", origin: .manual(actor: "mod")),
            LabelChange(action: .apply, subject: subject, val: "spam", origin: .manual(actor: "mod")),
        ])
        _ = try f.file(owner, "com.atproto.moderation.defs#reasonAppeal")
        #expect(try await f.runner.evaluateWaiting() == 1)
        let negated = try f.store.labels(after: 0, limit: 10).filter { $0.label.uri == Self.subject.key }
        #expect(negated.count == 2 && negated.allSatisfy { $0.label.isNegation })
        await f.stop()
    }

    /// Hits of rules that are gone, and hits older than their rule's window, are forgotten; the
    /// others stay and still count.
    @Test func hitsNoRuleCanCountAreForgotten() async throws {
        let f = try Fixture()
        // Three reporters: two hits stored, the third fires the rule (count 3).
        for name in ["a", "b"] { _ = try f.file(Self.reporter(name)) }
        #expect(try await f.runner.evaluateWaiting() == 2)
        let hour: Int64 = 3_600_000_000
        let filed = try Datetime(Self.now).unixMicros
        #expect(
            try f.store.reportRuleReporters(rule: "pile-up", subject: Self.subject.key, since: 0, excluding: "") == 2)
        try await f.store.pool.write { db in
            try db.execute(
                sql: "INSERT INTO report_rule_hit (rule, subject, reporter, at, report_id) VALUES (?, ?, ?, ?, 1)",
                arguments: ["removed-rule", Self.subject.key, Self.reporter("z"), filed])
        }
        // At the reports' time, the removed rule's hit goes; pile-up's (24 h window) stay.
        #expect(try f.store.pruneReportRuleHits(windows: ["pile-up": 24 * hour], now: filed) == 1)
        #expect(
            try f.store.reportRuleReporters(rule: "pile-up", subject: Self.subject.key, since: 0, excluding: "") == 2)
        // A day and a bit later they are out of the window and go too.
        #expect(try f.store.pruneReportRuleHits(windows: ["pile-up": 24 * hour], now: filed + 25 * hour) == 2)
        #expect(
            try f.store.reportRuleReporters(rule: "pile-up", subject: Self.subject.key, since: 0, excluding: "") == 0)
        await f.stop()
    }

    /// A rule in `mode: log` that would escalate leaves the report open (a dry run).
    @Test func anEscalationInModeLogIsADryRun() async throws {
        let f = try Fixture(
            rules: """
                rules:
                  - id: doxxing
                    on: [report]
                    match: {keywords: [address], in: [reason]}
                    escalate: true
                    mode: log
                """)
        let report = try f.file(Self.reporter("a"), reason: "their home address")
        #expect(try await f.runner.evaluateWaiting() == 1)
        #expect(try f.store.report(id: report.id)?.state == .open)
        #expect(f.runner.totals.escalated == 0)
        #expect(f.runner.totals.fired == ["doxxing": 1])
        await f.stop()
    }

    /// A report a person closed before the rules got to it is only marked evaluated: nothing is
    /// counted, labeled or escalated.
    @Test func aReportClosedBeforeTheRulesIsOnlyMarked() async throws {
        let f = try Fixture()
        let report = try f.file(Self.reporter("a"), reason: "their home address")
        _ = try f.store.closeReport(id: report.id, as: .dismissed, actor: "mod", note: nil, outcome: nil, at: Self.now)
        #expect(try await f.runner.evaluateWaiting() == 1)
        #expect(try f.store.reportsAwaitingRules().isEmpty)
        #expect(try f.labels().isEmpty)
        #expect(
            try f.store.reportRuleReporters(rule: "pile-up", subject: Self.subject.key, since: 0, excluding: "") == 0)
        let actions = try f.store.reportActions(id: report.id).map(\.action)
        #expect(actions == ["filed", "dismissed"], "\(actions)")
        await f.stop()
    }

    /// What the rules decided is stored once: a second `finishReportRules` for the same report
    /// escalates nothing and records nothing; and a reporter's hit never goes back in time when
    /// an older report of theirs is evaluated after a newer one.
    @Test func finishingAReportTwiceChangesNothingAndHitsNeverGoBack() async throws {
        let f = try Fixture()
        let reporter = Self.reporter("a")
        let newer = try f.file(reporter)
        let older = try f.file(
            reporter, subject: .account(did: "did:plc:otheraaaaaaaaaaaaaaaaaaa"), at: "2026-06-02T11:00:00.000Z")
        let time = try Datetime(Self.now).unixMicros
        let hour: Int64 = 3_600_000_000
        let outcome = ReportRulesOutcome(
            hits: [.init(rule: "pile-up", subject: "counted", window: 24 * hour)],
            escalations: [.init(rule: "pile-up", subject: "counted", reportersSince: nil)])
        #expect(try f.store.finishReportRules(newer, outcome: outcome, at: time, now: Self.now) == [newer.id])
        #expect(try f.store.finishReportRules(newer, outcome: outcome, at: time, now: Self.now) == [])
        let actions = try f.store.reportActions(id: newer.id).map(\.action)
        #expect(actions == ["filed", "escalated"], "\(actions)")
        // The older report's hit (an hour before) leaves the reporter's hit at the newer time.
        let olderOutcome = ReportRulesOutcome(hits: [.init(rule: "pile-up", subject: "counted", window: 24 * hour)])
        _ = try f.store.finishReportRules(older, outcome: olderOutcome, at: time - hour, now: Self.now)
        #expect(try f.store.reportRuleReporters(rule: "pile-up", subject: "counted", since: time, excluding: "") == 1)
        await f.stop()
    }

    /// The runner forgets the hits of rules no longer loaded once nothing waits, and keeps those
    /// of its rules that are still in their window (measured at the reports' own time).
    @Test func theRunnerForgetsTheHitsOfRemovedRules() async throws {
        let f = try Fixture()
        let filed = try Datetime(Self.now).unixMicros
        try await f.store.pool.write { db in
            try db.execute(
                sql: "INSERT INTO report_rule_hit (rule, subject, reporter, at, report_id) VALUES (?, ?, ?, ?, 1)",
                arguments: ["removed-rule", Self.subject.key, Self.reporter("z"), filed])
        }
        _ = try f.file(Self.reporter("a"))
        #expect(try await f.runner.evaluateWaiting() == 1)
        #expect(
            try f.store.reportRuleReporters(rule: "removed-rule", subject: Self.subject.key, since: 0, excluding: "")
                == 0)
        #expect(
            try f.store.reportRuleReporters(rule: "pile-up", subject: Self.subject.key, since: 0, excluding: "") == 1)
        await f.stop()
    }

    /// A report the writer keeps refusing is retried, then set aside (marked evaluated, still
    /// open for people) so that the reports after it go on; one whose time cannot be read is only
    /// marked.
    @Test func aReportThatKeepsFailingIsSetAsideAndTheNextGoesOn() async throws {
        let store = try LabelStore(path: temporaryPath("report-rules-failing.sqlite"))
        let set = try RuleSet.load(RuleSources(ruleFiles: [.init(path: "rules/r.yaml", text: Self.rules)]))
        struct Refused: Error {}
        let runner = ReportRuleRunner(
            store: store, holder: RuleSetHolder(set), submit: { _ in throw Refused() }, logger: quietLogger(),
            retryDelay: .milliseconds(1), givingUpAfter: 3)
        let unreadable = try store.fileReport(
            NewReport(
                reasonType: Self.spam, reason: nil, subject: Self.subject, reportedBy: Self.reporter("a"),
                createdAt: "not a time")
        ).report
        // A negation with something to negate needs the writer; its submission is refused.
        let appeal = try store.fileReport(
            NewReport(
                reasonType: "com.atproto.moderation.defs#reasonAppeal", reason: nil, subject: Self.subject,
                reportedBy: "did:plc:reportedaaaaaaaaaaaaaaaa", createdAt: Self.now)
        ).report
        let writer = try LabelWriter(
            store: store, src: "did:plc:labeleraaaaaaaaaaaaaaaaa", key: .generate(.secp256k1), logger: quietLogger())
        let writing = Task { await writer.run() }
        _ = try await writer.submit([
            LabelChange(
                action: .apply, subject: try LabelSubject(Self.subject.key), val: "needs-review",
                origin: .manual(actor: "mod"))
        ])
        let later = try store.fileReport(
            NewReport(
                reasonType: "com.atproto.moderation.defs#reasonOther", reason: nil, subject: Self.subject,
                reportedBy: Self.reporter("b"), createdAt: Self.now)
        ).report
        let running = Task { await runner.run() }
        // The runner counts an evaluation after its transaction: wait for the count too.
        try await waitUntil("every report evaluated or set aside") {
            try store.reportsAwaitingRules().isEmpty && runner.totals.evaluated >= 1
        }
        #expect(runner.totals.failures == 3)
        #expect(runner.totals.evaluated == 1)  // `later`; the unreadable one is only marked
        #expect(try store.reports(state: .open).map(\.id).sorted() == [unreadable.id, appeal.id, later.id])
        running.cancel()
        writing.cancel()
        await running.value
        await writing.value
    }

    /// A subject URI that is not a record's (no record key) makes the label fail; it never lands
    /// on the account.
    @Test func aMalformedRecordSubjectIsAFailureNotAnAccountLabel() throws {
        let set = try RuleSet.load(RuleSources(ruleFiles: [.init(path: "rules/r.yaml", text: Self.rules)]))
        let facts = ReportFacts(
            id: 1, reasonType: Self.spam, reason: "", reporter: Self.reporter("a"), reporterMuted: false,
            reporterDismissed: 0)
        let effects = set.evaluate(
            .report(facts, subject: "at://did:plc:reportedaaaaaaaaaaaaaaaa/app.bsky.feed.post", cid: nil, time: 0),
            counts: FixedThresholdCounts(["pile-up": 2]), using: RuleScratch())
        #expect(effects.labels.isEmpty)
        #expect(effects.failures.map(\.ruleID) == ["pile-up"])
    }

    /// As the app files them: three reporters' tokens, through the HTTP endpoint, and the
    /// service's runner labels the post once the third arrives.
    @Test func reportsFromTheNetworkReachTheRules() async throws {
        let network = try TestNetwork()
        let base = try await network.start()
        let reporters = ["a", "b", "c"].map { (did: Self.reporter($0), key: SigningKey.generate(.secp256k1)) }
        network.withState {
            for reporter in reporters {
                $0.plc[reporter.did] = .init(
                    verificationMethods: ["atproto": reporter.key.publicKey.didKey], alsoKnownAs: [], services: [:])
            }
        }
        let rulesDirectory = try LabelerServiceTests.configuration(rules: Self.rules).rulesPath
        try await ReportIntakeTests.withReportingService(
            network: network, base: base, configure: { $0.rulesPath = rulesDirectory }
        ) { service, port in
            let runner = try #require(service.reportRules)
            let writer = service.writer
            let writing = Task { await writer.run() }
            let running = Task { await runner.run() }
            defer {
                writing.cancel()
                running.cancel()
            }
            let method = "com.atproto.moderation.createReport"
            let body =
                #"{"reasonType":"com.atproto.moderation.defs#reasonSpam","subject":{"$type":"com.atproto.repo.strongRef","uri":"\#(Self.subject.key)","cid":"\#(Self.subject.cid)"}}"#
            for reporter in reporters {
                let token = try ServiceAuthToken.mint(
                    reporter.key, issuer: reporter.did, audience: ReportIntakeTests.labeler + "#atproto_labeler",
                    method: method)
                let answer = try await postXRPC(port: port, method: method, bearer: token, body: body)
                #expect(answer.status == 200, "\(answer.text)")
            }
            try await waitUntil("the third report's label") {
                try service.store.labels(after: 0, limit: 10).map(\.label.val) == ["needs-review"]
            }
            // The runner counts an evaluation after its transaction: wait for the count too.
            try await waitUntil("the reports escalated") {
                try service.store.reports(state: .escalated).count == 3 && runner.totals.evaluated >= 3
            }
            #expect(runner.totals.evaluated == 3)
            running.cancel()
            writing.cancel()
            await running.value
            await writing.value
        }
    }
}

extension ReportSubject {
    /// The CID of a record subject.
    var cid: String {
        if case .record(_, let cid) = self { cid } else { "" }
    }
}
