import ATProto
import LabelStore
import Logging
import Rules
import ServiceLifecycle

/// Runs the rules on reports (`on: [report]`) over every report filed, one at a time in the order
/// they were filed.
///
/// A report is stored waiting for the rules; the runner evaluates it with the rules in force,
/// hands the labels and negations it asks for to the label writer (so budgets, the global queue
/// and the history apply as for every rule; the history names the report), then stores what it
/// decided (threshold hits, escalations) and marks the report evaluated in one transaction. A
/// crash between the writer's commit and that transaction evaluates the report again after the
/// restart: its time is the report's own, so it asks for the same labels, which the writer then
/// finds already there — nothing is missed and nothing is doubled.
public final class ReportRuleRunner: Sendable {
    /// Hands label changes to the writer and returns once they are committed.
    public typealias Submit = @Sendable ([LabelChange]) async throws -> [StoredLabel]

    let store: LabelStore
    let holder: RuleSetHolder
    let submit: Submit
    let logger: Logger
    private let wakeUps: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    private let counters = Locked(Totals())

    public struct Totals: Sendable, Equatable {
        /// Reports evaluated.
        public var evaluated = 0
        /// Rule firings, by rule.
        public var fired: [String: Int] = [:]
        /// Label changes handed to the writer.
        public var changes = 0
        /// Reports escalated by rules.
        public var escalated = 0
        /// Evaluations that failed (the report stays waiting and is tried again).
        public var failures = 0
    }

    public init(store: LabelStore, holder: RuleSetHolder, submit: @escaping Submit, logger: Logger) {
        self.store = store
        self.holder = holder
        self.submit = submit
        self.logger = logger
        (wakeUps, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    public var totals: Totals { counters.withLock { $0 } }

    /// Says a report was filed: the runner looks for waiting reports.
    public func reportFiled() { wake.yield() }

    /// Evaluates the waiting reports, then every report filed, until cancelled. A failure (the
    /// writer refusing, the database) is logged and the report is tried again a second later.
    public func run() async {
        let scratch = RuleScratch()
        var wakeUps = self.wakeUps.makeAsyncIterator()
        var failedLastPass = false
        while !Task.isCancelled {
            do {
                _ = try await evaluateWaiting(using: scratch)
                failedLastPass = false
            } catch is CancellationError {
                return
            } catch {
                counters.withLock { $0.failures += 1 }
                if !failedLastPass { logger.error("report rules failed", metadata: ["error": "\(error)"]) }
                failedLastPass = true
            }
            if failedLastPass {
                do { try await Task.sleep(for: .seconds(1)) } catch { return }
                continue
            }
            guard await wakeUps.next() != nil else { return }
        }
    }

    /// Evaluates every report waiting for the rules; returns how many.
    public func evaluateWaiting(using scratch: RuleScratch = RuleScratch()) async throws -> Int {
        var done = 0
        while true {
            let waiting = try store.reportsAwaitingRules(limit: 100)
            if waiting.isEmpty { return done }
            for report in waiting {
                try Task.checkCancellation()
                try await evaluate(report, using: scratch)
                done += 1
            }
        }
    }

    /// Evaluates one report and stores what the rules decided.
    func evaluate(_ report: StoredReport, using scratch: RuleScratch) async throws {
        let rules = holder.current
        let time = (try? Datetime(report.createdAt))?.unixMicros ?? Datetime.now().unixMicros
        let facts = ReportFacts(
            id: report.id, reasonType: report.reasonType, reason: report.reason ?? "", reporter: report.reportedBy,
            reporterMuted: report.muted, reporterDismissed: try store.dismissedReportCount(by: report.reportedBy))
        let cid: String? = if case .record(_, let cid) = report.subject { cid } else { nil }
        let context = RecordContext.report(facts, subject: report.subject.key, cid: cid, time: time)
        let counts = ReporterCounts(store: store, subject: report.subject.key, reporter: report.reportedBy)
        let effects = rules.evaluate(context, counts: counts, using: scratch)
        if let failure = counts.failure { throw failure }

        let changes = effects.labelChanges.map { change in
            var change = change
            change.reportID = report.id
            change.eventTime = time
            change.reason =
                "report \(report.id) (\(ReportReasonType.shortName(of: report.reasonType) ?? report.reasonType))"
            return change
        }
        if !changes.isEmpty { _ = try await submit(changes) }

        var outcome = ReportRulesOutcome()
        outcome.hits = effects.counterBumps.map { .init(rule: $0.ruleID, window: $0.window) }
        for firing in effects.fired {
            guard let rule = rules.rule(firing.ruleID), rule.escalates else { continue }
            guard rule.emits(for: context.did) else {
                logger.info(
                    "report rule would escalate (dry run)", metadata: ["rule": "\(rule.id)", "report": "\(report.id)"])
                continue
            }
            outcome.escalations.append(
                .init(rule: rule.id, reportersSince: rule.threshold.map { time - $0.within.microseconds }))
        }
        let escalated = try store.finishReportRules(report, outcome: outcome, at: time)

        for effect in effects.dryRun {
            logger.info(
                "report rule would label (dry run)", metadata: ["report": "\(report.id)", "effect": "\(effect)"])
        }
        for failure in effects.failures {
            logger.warning("report rule failed", metadata: ["report": "\(report.id)", "failure": "\(failure)"])
        }
        if !effects.fired.isEmpty {
            logger.info(
                "report rules fired",
                metadata: [
                    "report": "\(report.id)", "subject": "\(report.subject.key)",
                    "rules": "\(effects.fired.map(\.ruleID).joined(separator: ","))", "changes": "\(changes.count)",
                    "escalated": "\(escalated.map(String.init).joined(separator: ","))",
                ])
        }
        counters.withLock { totals in
            totals.evaluated += 1
            totals.changes += changes.count
            totals.escalated += escalated.count
            for firing in effects.fired { totals.fired[firing.ruleID, default: 0] += 1 }
        }
    }
}

/// Thresholds of report rules count distinct reporters of the report's subject within the
/// window, the reporter of the report being evaluated left out (the engine adds it).
private final class ReporterCounts: ThresholdCounts {
    let store: LabelStore
    let subject: String
    let reporter: String
    /// The first read that failed: the evaluation is abandoned and tried again.
    var failure: LabelStore.Error?

    init(store: LabelStore, subject: String, reporter: String) {
        self.store = store
        self.subject = subject
        self.reporter = reporter
    }

    func count(ruleID: String, did: String, since: Int64) -> Int {
        do {
            return try store.reportRuleReporters(rule: ruleID, subject: subject, since: since, excluding: reporter)
        } catch {
            if failure == nil { failure = error }
            return 0
        }
    }
}

/// Runs a ``ReportRuleRunner`` as a service until shutdown.
public struct ReportRuleService: Service {
    let runner: ReportRuleRunner

    public init(runner: ReportRuleRunner) { self.runner = runner }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await runner.run() }
    }
}
