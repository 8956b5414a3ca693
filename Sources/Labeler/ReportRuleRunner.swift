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
    let retryDelay: Duration
    let givingUpAfter: Int
    private let wakeUps: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    private let counters = Locked(Totals())
    /// When old threshold hits were last forgotten.
    private let lastPrune = Locked<ContinuousClock.Instant?>(nil)
    /// The latest time of a report evaluated here: windows end there (the reports' own clock,
    /// as for their evaluation), not at this machine's clock.
    private let latestReportTime = Locked<Int64?>(nil)

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

    /// - Parameters:
    ///   - retryDelay: the wait after a failed attempt.
    ///   - givingUpAfter: attempts at one report before it is set aside.
    public init(
        store: LabelStore, holder: RuleSetHolder, submit: @escaping Submit, logger: Logger,
        retryDelay: Duration = .seconds(1), givingUpAfter: Int = 30
    ) {
        self.retryDelay = retryDelay
        self.givingUpAfter = givingUpAfter
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
    /// writer refusing, the database) is logged and the report is tried again after
    /// `retryDelay`; one that keeps failing for `givingUpAfter` attempts is set aside (marked evaluated, logged as
    /// an error) so that it does not hold up every report after it.
    public func run() async {
        let scratch = RuleScratch()
        var wakeUps = self.wakeUps.makeAsyncIterator()
        var failing: (report: Int64?, attempts: Int, error: String)? = nil
        while !Task.isCancelled {
            do {
                _ = try await evaluateWaiting(using: scratch)
                if let failing {
                    logger.info("report rules recovered", metadata: ["after": "\(failing.attempts) failed attempts"])
                }
                failing = nil
            } catch is CancellationError {
                return
            } catch {
                counters.withLock { $0.failures += 1 }
                let report = (error as? ReportFailure)?.report
                let text = "\(error)"
                var attempts = 1
                if let failing, failing.report == report { attempts = failing.attempts + 1 }
                if attempts == 1 || text != failing?.error {
                    logger.error(
                        "report rules failed",
                        metadata: ["error": "\(text)", "report": "\(report.map(String.init) ?? "-")"])
                }
                failing = (report, attempts, text)
                if let report, attempts >= givingUpAfter {
                    setAside(report, error: text)
                    failing = nil
                    continue
                }
                do { try await Task.sleep(for: retryDelay) } catch { return }
                continue
            }
            guard await wakeUps.next() != nil else { return }
        }
    }

    /// Marks a report that keeps failing as evaluated, with nothing decided, and says so.
    private func setAside(_ id: Int64, error: String) {
        do {
            guard let report = try store.report(id: id) else { return }
            try store.finishReportRules(report, outcome: ReportRulesOutcome(), at: 0, now: Datetime.now().rawValue)
            logger.error(
                "report rules gave up on a report; it stays in the queue for people",
                metadata: ["report": "\(id)", "attempts": "\(givingUpAfter)", "error": "\(error)"])
        } catch {
            logger.error(
                "report rules could not set a report aside", metadata: ["report": "\(id)", "error": "\(error)"])
        }
    }

    /// Evaluates every report waiting for the rules; returns how many. Once nothing waits, and
    /// at most every ``pruneInterval``, the threshold hits no rule can count any more are
    /// forgotten.
    public func evaluateWaiting(using scratch: RuleScratch = RuleScratch()) async throws -> Int {
        var done = 0
        while true {
            let waiting = try store.reportsAwaitingRules(limit: 100)
            if waiting.isEmpty {
                try pruneIfDue()
                return done
            }
            for report in waiting {
                try Task.checkCancellation()
                do { try await evaluate(report, using: scratch) } catch is CancellationError {
                    throw CancellationError()
                } catch {
                    throw ReportFailure(report: report.id, error: error)
                }
                done += 1
            }
        }
    }

    /// How often old threshold hits are forgotten (hits older than every window, counted back
    /// from the latest report evaluated, and those of rules that are gone).
    static let pruneInterval = Duration.seconds(600)

    private func pruneIfDue() throws {
        let clock = ContinuousClock()
        let due = lastPrune.withLock { last in
            guard last.map({ clock.now - $0 >= Self.pruneInterval }) ?? true else { return false }
            last = clock.now
            return true
        }
        guard due else { return }
        // Before any report was evaluated here, only the hits of rules that are gone.
        let now = latestReportTime.value ?? .min / 2
        let forgotten = try store.pruneReportRuleHits(
            windows: holder.current.thresholdWindows(onReports: true), now: now)
        if forgotten > 0 { logger.debug("old report rule hits forgotten", metadata: ["rows": "\(forgotten)"]) }
    }

    /// Evaluates one report and stores what the rules decided. A report closed by a person
    /// before the rules got to it, or whose time cannot be read, is only marked evaluated.
    func evaluate(_ report: StoredReport, using scratch: RuleScratch) async throws {
        let now = Datetime.now()
        guard report.state == .open, let time = (try? Datetime(report.createdAt))?.unixMicros else {
            if report.state == .open {
                logger.warning(
                    "report rules skip a report whose time cannot be read",
                    metadata: ["report": "\(report.id)", "created_at": "\(report.createdAt)"])
            }
            try store.finishReportRules(report, outcome: ReportRulesOutcome(), at: 0, now: now.rawValue)
            return
        }
        latestReportTime.withLock { $0 = max($0 ?? time, time) }
        let rules = holder.current
        let facts = ReportFacts(
            id: report.id, reasonType: report.reasonType, reason: report.reason ?? "", reporter: report.reportedBy,
            reporterMuted: report.muted,
            reporterDismissed: try store.dismissedReportCount(by: report.reportedBy, before: report.id))
        var cid: String? = nil
        if case .record(_, let recordCID) = report.subject, !recordCID.isEmpty { cid = recordCID }
        let context = RecordContext.report(facts, subject: report.subject.key, cid: cid, time: time)
        let counts = ReporterCounts(store: store, rules: rules, report: report)
        let effects = rules.evaluate(context, counts: counts, using: scratch)
        if let failure = counts.failure { throw failure }

        let changes = try labelChanges(effects, of: report, at: time, now: now)
        if !changes.isEmpty { _ = try await submit(changes) }
        let escalated = try store.finishReportRules(
            report, outcome: outcome(of: effects, rules: rules, context: context, report: report), at: time,
            now: Datetime.now().rawValue)
        record(effects, of: report, changes: changes.count, escalated: escalated)
    }

    /// The changes the effects ask for, naming the report. A negation is of the label on every
    /// version of the subject it is on (as `reports resolve --negate` does), not only on the
    /// version the reporter saw.
    private func labelChanges(_ effects: Effects, of report: StoredReport, at time: Int64, now: Datetime) throws
        -> [LabelChange]
    {
        var changes: [LabelChange] = []
        let shortType = ReportReasonType.shortName(of: report.reasonType) ?? report.reasonType
        func add(_ change: LabelChange) {
            var change = change
            change.reportID = report.id
            change.eventTime = time
            change.reason = "reason type " + shortType
            changes.append(change)
        }
        for effect in effects.labels { add(LabelChange(effect)) }
        for effect in effects.negations {
            for label in try store.activeVersions(of: effect.value, on: effect.subject, now: now.rawValue) {
                var negation = LabelChange(effect)
                negation.cid = label.label.cid
                add(negation)
            }
        }
        return changes
    }

    /// The threshold hits and escalations to store.
    private func outcome(of effects: Effects, rules: RuleSet, context: RecordContext, report: StoredReport)
        -> ReportRulesOutcome
    {
        var outcome = ReportRulesOutcome()
        outcome.hits = effects.counterBumps.map { bump in
            .init(rule: bump.ruleID, subject: Self.countedSubject(bump.ruleID, rules, report), window: bump.window)
        }
        for firing in effects.fired {
            guard let rule = rules.rule(firing.ruleID), rule.escalates else { continue }
            guard rule.emits(for: context.did) else {
                logger.info(
                    "report rule would escalate (dry run)", metadata: ["rule": "\(rule.id)", "report": "\(report.id)"])
                continue
            }
            outcome.escalations.append(
                .init(
                    rule: rule.id, subject: Self.countedSubject(rule.id, rules, report),
                    reportersSince: rule.threshold.map { context.time - $0.within.microseconds }))
        }
        return outcome
    }

    /// What a rule's threshold counts reporters of: the reported subject, or with
    /// `subject: account` the account (reports of any of its records count together).
    static func countedSubject(_ ruleID: String, _ rules: RuleSet, _ report: StoredReport) -> String {
        rules.rule(ruleID)?.subject == .account ? report.subject.ownerDID : report.subject.key
    }

    private func record(_ effects: Effects, of report: StoredReport, changes: Int, escalated: [Int64]) {
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
                    "rules": "\(effects.fired.map(\.ruleID).joined(separator: ","))", "changes": "\(changes)",
                    "escalated": "\(escalated.map(String.init).joined(separator: ","))",
                ])
        }
        counters.withLock { totals in
            totals.evaluated += 1
            totals.changes += changes
            totals.escalated += escalated.count
            for firing in effects.fired { totals.fired[firing.ruleID, default: 0] += 1 }
        }
    }
}

/// A report the rules failed on, with why.
struct ReportFailure: Error, CustomStringConvertible {
    let report: Int64
    let error: any Error

    var description: String { "report \(report): \(error)" }
}

/// Thresholds of report rules count distinct reporters of the report's subject (or account, see
/// ``ReportRuleRunner/countedSubject(_:_:_:)``) within the window, the reporter of the report
/// being evaluated left out (the engine adds it).
private final class ReporterCounts: ThresholdCounts {
    let store: LabelStore
    let rules: RuleSet
    let report: StoredReport
    /// The first read that failed: the evaluation is abandoned and tried again.
    var failure: LabelStore.Error?

    init(store: LabelStore, rules: RuleSet, report: StoredReport) {
        self.store = store
        self.rules = rules
        self.report = report
    }

    func count(ruleID: String, did: String, since: Int64) -> Int {
        do {
            return try store.reportRuleReporters(
                rule: ruleID, subject: ReportRuleRunner.countedSubject(ruleID, rules, report), since: since,
                excluding: report.reportedBy)
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
