import ATCrypto
import ATProto
import Firehose
import Foundation
import LabelStore
import Rules
import Synchronization
import SyntheticFirehose
import TestNetwork
import TestRelay
import TestSupport
import Testing

@testable import Labeler

/// Per-rule budgets (`limits:`), trips, resets and alerts, through the label writer.
@Suite struct RuleBudgetTests {
    static let minute: Int64 = 60_000_000
    /// 2025-06-15T15:06:00Z: the start of a minute, hour and day window is not needed, only one
    /// minute that all the test's events fall in.
    static let start: Int64 = 1_750_000_000_000_000 - 40_000_000

    static func apply(_ n: Int, rule: String = "r", at time: Int64, limits: BudgetLimits?) throws -> LabelChange {
        LabelChange(
            action: .apply, subject: try LabelSubject("at://did:plc:a\(n % 7)/app.bsky.feed.post/\(n)"), val: "spam",
            origin: .rule(id: rule), eventTime: time, budget: limits)
    }

    @Test func windowsAreWholeUTCUnits() {
        #expect(BudgetWindow.minute.index(ofMicros: 59_999_999) == 0)
        #expect(BudgetWindow.minute.index(ofMicros: 60_000_000) == 1)
        #expect(BudgetWindow.minute.index(ofMicros: -1) == -1)
        #expect(BudgetWindow.day.index(ofMicros: 86_400_000_000 * 3 + 5) == 3)
        #expect(BudgetWindow.second.index(ofMicros: 1_500_000) == 1)
    }

    @Test func theLedgerAdmitsExactlyTheLimitThenTripsForGood() {
        var ledger = BudgetLedger()
        let limits = BudgetLimits([.minute: 3, .hour: 5])
        var admitted: [Bool] = []
        for i in 0..<4 {
            admitted.append(
                ledger.admit(rule: "r", limits: limits, at: Self.start + Int64(i), trippedAt: "t", label: "l\(i)"))
        }
        #expect(admitted == [true, true, true, false])
        #expect(ledger.newTrips.map(\.window) == [.minute])
        #expect(ledger.newTrips.first?.label == "l3")
        // A new minute has room, but a tripped rule stays tripped until a person resets it.
        let nextMinute = ledger.admit(
            rule: "r", limits: limits, at: Self.start + Self.minute, trippedAt: "t", label: "x")
        #expect(!nextMinute)
        #expect(ledger.withheld["r"] == 2)
        #expect(ledger.newTrips.count == 1)
        // Other rules are not affected; a rule without limits is never counted.
        let other = ledger.admit(rule: "other", limits: limits, at: Self.start, trippedAt: "t", label: "y")
        let free = ledger.admit(rule: "free", limits: nil, at: Self.start, trippedAt: "t", label: "z")
        #expect(other && free)
        #expect(!ledger.changed.contains { $0.owner == "free" })

        // The hour's limit trips too, across minutes.
        var hourly = BudgetLedger()
        let results = (0..<7).map { i in
            hourly.admit(rule: "h", limits: limits, at: Self.start + Int64(i) * Self.minute, trippedAt: "t", label: "")
        }
        #expect(results == [true, true, true, true, true, false, false])
        #expect(hourly.newTrips.map(\.window) == [.hour])
    }

    @Test func thePlannerWithholdsOnlyRulesApplicationsThatChangeSomething() throws {
        let limits = BudgetLimits([.minute: 1])
        let first = try Self.apply(1, at: Self.start, limits: limits)
        var negation = first
        negation.action = .negate
        var manual = try Self.apply(2, at: Self.start, limits: nil)
        manual.origin = .manual(actor: "ops")
        let changes = [
            first, first,  // the repeat changes nothing: not counted
            try Self.apply(3, at: Self.start, limits: limits),  // over: trips
            negation,  // taking back is always allowed
            manual,  // people are never withheld
            try Self.apply(4, at: Self.start, limits: limits),  // tripped
        ]
        var ledger = BudgetLedger()
        var queued: [LabelKey: Int64] = [:]
        let steps = LabelPlanner.plan(
            changes, current: [:], src: "did:plc:l", now: Datetime(unixMicros: Self.start), eventSource: nil,
            budgets: &ledger, queuedKeys: &queued)
        #expect(steps.map { $0.label != nil } == [true, false, false, true, true, false])
        #expect(steps.map(\.withheld) == [false, false, true, false, false, true])
        #expect(ledger.withheld == ["r": 2])
        #expect(ledger.newTrips.map(\.ruleID) == ["r"])
    }

    /// Many submitters at once, across many transactions: exactly the limit is stored, the rule
    /// trips once, and stays tripped for a new writer (a restart) until it is reset.
    @Test func aBurstTripsExactlyAtTheLimitAcrossBatchesAndRestarts() async throws {
        let path = temporaryPath("labels.sqlite")
        let store = try LabelStore(path: path)
        let key = SigningKey.generate(.secp256k1)
        let limits = BudgetLimits([.minute: 10])
        let writer = try LabelWriter(
            store: store, src: "did:plc:labeler", key: key, configuration: .init(maxBatch: 3), logger: quietLogger())
        let run = Task { await writer.run() }
        let outcomes = try await withThrowingTaskGroup(of: LabelWriter.Submitted.self) { group in
            for n in 0..<40 {
                group.addTask {
                    try await writer.submitReporting([try Self.apply(n, at: Self.start + Int64(n), limits: limits)])
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.reduce(0) { $0 + $1.rows.count } == 10)
        #expect(outcomes.reduce(0) { $0 + $1.withheld } == 30)
        #expect(writer.totals.withheldByRule == ["r": 30])
        #expect(writer.totals.labelsByValue == ["spam": 10])
        #expect(writer.totals.trips == 1)
        run.cancel()
        await run.value
        #expect(try store.labels(after: 0, limit: 100).count == 10)
        #expect(try store.trips().map(\.trip.ruleID) == ["r"])
        #expect(try store.budgetCounts(at: Self.start)["r"]?[.minute] == 10)

        // Restarted: still tripped, even in a later minute with room.
        let reopened = try LabelStore(path: path)
        let again = try LabelWriter(store: reopened, src: "did:plc:labeler", key: key, logger: quietLogger())
        let rerun = Task { await again.run() }
        let later = try await again.submitReporting([try Self.apply(100, at: Self.start + Self.minute, limits: limits)])
        #expect(later.rows.isEmpty && later.withheld == 1)

        // Reset while the writer runs: its next transaction takes it.
        #expect(try reopened.resetRule("r")?.trip.limit == 10)
        #expect(try reopened.trips().isEmpty)
        let resumed = try await again.submitReporting([
            try Self.apply(101, at: Self.start + Self.minute, limits: limits)
        ])
        #expect(resumed.rows.count == 1)
        rerun.cancel()
        await rerun.value
    }

    /// A rule's budget counts by the events' own time, so a capture replayed and the same
    /// events from a relay trip at the same point: exactly the limit is stored both ways.
    @Test func replayAndLiveTripAtTheSameCount() async throws {
        let rules = """
            rules:
              - id: every-post
                on: [post]
                match: {regex: "[a-z]"}
                label: noisy
                limits: {per_hour: 25}
            """
        let directory = temporaryPath("rules")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try rules.write(toFile: directory + "/test.yaml", atomically: true, encoding: .utf8)
        let set = try RuleSet.load(directory: directory)
        var generator = SyntheticFirehose(seed: 5, accounts: 40)
        let messages = generator.messages(600)

        func run(_ source: any EventSource, until done: @escaping @Sendable (EventLabeler) -> Bool) async throws
            -> (stored: Int, withheld: Int, requested: Int, trips: [String])
        {
            let store = try LabelStore(path: temporaryPath("labels.sqlite"))
            let writer = try LabelWriter(
                store: store, src: "did:plc:labeler", key: .generate(.secp256k1), logger: quietLogger(),
                eventSource: source.cursorName)
            let labeler = EventLabeler(
                evaluator: RuleEvaluator(holder: RuleSetHolder(set), eventSource: source.cursorName), writer: writer,
                logger: quietLogger())
            let pipeline = IngestPipeline(source: source, store: store, logger: quietLogger())
            let writing = Task { await writer.run() }
            let ingest = Task {
                try await pipeline.run(
                    handler: { seq, event in try await labeler.handle(seq: seq, event: event) },
                    cursorAdvanced: { writer.cursorAdvanced(to: $0) },
                    restartSource: { try await writer.restartSource() })
            }
            try await waitUntil("every event handled", timeout: .seconds(120)) { done(labeler) }
            pipeline.stop()
            _ = try await ingest.value
            writing.cancel()
            await writing.value
            return (
                try store.labels(after: 0, limit: 10_000).count, writer.totals.withheld, labeler.totals.labels,
                try store.trips().map(\.trip.ruleID)
            )
        }

        let capture = temporaryPath("capture.bin")
        let captureWriter = try CaptureWriter(path: capture)
        for message in messages { try captureWriter.write(message) }
        try captureWriter.flush()
        let events = messages.count
        let replayed = try await run(CaptureSource(paths: [capture])) { $0.totals.events == events }
        let relay = try await TestRelay(messages: messages)
        let live = try await run(
            try RelaySource(configuration: .init(url: relay.url), logger: quietLogger())
        ) { $0.totals.events == events }
        await relay.stop()

        #expect(replayed.requested > 25)
        #expect(replayed.stored == 25)
        #expect(live.stored == 25)
        #expect(replayed.withheld == replayed.requested - 25)
        #expect(live.withheld == replayed.withheld)
        #expect(replayed.trips == ["every-post"] && live.trips == ["every-post"])
    }

    /// The webhook gets exactly one alert per trip, also when it failed at first; the alert names
    /// the rule and how to reset it.
    @Test func theWebhookGetsOneAlertPerTrip() async throws {
        let network = try TestNetwork()
        let base = try await network.start()
        let store = try LabelStore(path: temporaryPath("labels.sqlite"))
        let writer = try LabelWriter(
            store: store, src: "did:plc:labeler", key: .generate(.secp256k1), logger: quietLogger())
        let run = Task { await writer.run() }
        let limits = BudgetLimits([.minute: 2])
        for n in 0..<5 { _ = try await writer.submit([try Self.apply(n, rule: "a", at: Self.start, limits: limits)]) }
        for n in 0..<5 { _ = try await writer.submit([try Self.apply(n, rule: "b", at: Self.start, limits: limits)]) }
        #expect(try store.unalertedTrips().count == 2)

        network.withState { $0.failing["hooks/ops"] = 503 }
        let alerter = TripAlerter(store: store, webhookURL: "\(base)/hooks/ops", logger: quietLogger())
        #expect(await alerter.sendPending() == false)
        #expect(alerter.totals.failed == 1)
        network.withState { $0.failing["hooks/ops"] = nil }
        let alerting = Task { await alerter.run() }
        try await waitUntil("both alerts taken") { try store.unalertedTrips().isEmpty }
        // A reset and a new trip of the same rule is a new alert; the old ones are not sent again.
        _ = try store.resetRule("a")
        let afterReset = try await (10..<13).asyncMap {
            try await writer.submitReporting([try Self.apply($0, rule: "a", at: Self.start, limits: limits)])
        }
        #expect(afterReset.map(\.rows.count) == [1, 1, 0] && afterReset.map(\.withheld) == [0, 0, 1])
        try await waitUntil("the new trip's alert taken") {
            try store.unalertedTrips().isEmpty && network.withState { $0.hooks["ops", default: []].count } >= 3
        }
        alerting.cancel()
        await alerting.value
        run.cancel()
        await run.value

        let bodies = network.withState { $0.hooks["ops", default: []] }
        #expect(bodies.count == 3)
        let alerts = try bodies.map { try JSONSerialization.jsonObject(with: $0) as? [String: Any] ?? [:] }
        #expect(alerts.map { $0["rule"] as? String } == ["a", "b", "a"])
        #expect(alerts.allSatisfy { ($0["text"] as? String)?.contains("labeler rules reset") == true })
        #expect(alerts.first?["limit"] as? Int == 2 && alerts.first?["window"] as? String == "minute")
        await network.stop()
    }

    /// Over the global budget, labels wait in the database and go out as each second makes
    /// room: people's first, then rules' in order, and a label's later change never overtakes
    /// its earlier one. Nothing is dropped and no second sends more than the budget.
    @Test func theGlobalBudgetQueuesAndPacesPeopleFirst() async throws {
        let store = try LabelStore(path: temporaryPath("labels.sqlite"))
        let now = Mutex<Int64>(Self.start)
        let writer = try LabelWriter(
            store: store, src: "did:plc:labeler", key: .generate(.secp256k1),
            configuration: .init(
                idleCursorInterval: .milliseconds(20), now: { Datetime(unixMicros: now.withLock { $0 }) },
                globalBudget: BudgetLimits([.second: 4]), drainInterval: .milliseconds(10)),
            logger: quietLogger())
        let run = Task { await writer.run() }
        let first = try await writer.submitReporting(
            try (0..<10).map { try Self.apply($0, at: Self.start, limits: nil) })
        #expect(first.rows.count == 4 && first.queued == 6)
        var person = try Self.apply(50, at: Self.start, limits: nil)
        person.origin = .manual(actor: "ops")
        #expect(try await writer.submitReporting([person]).queued == 1)
        var negation = try Self.apply(7, at: Self.start, limits: nil)
        negation.action = .negate
        #expect(try await writer.submitReporting([negation]).queued == 1)
        #expect(try store.queueDepth() == 8)

        now.withLock { $0 += 1_000_000 }
        try await waitUntil("the second second's four") { try store.queueDepth() == 4 }
        let second = try store.labels(after: 0, limit: 100).suffix(4).map(\.label.uri)
        #expect(second.first == "at://did:plc:a1/app.bsky.feed.post/50", "the person's label goes first")
        #expect(
            Array(second.dropFirst())
                == (4..<7).map { "at://did:plc:a\($0 % 7)/app.bsky.feed.post/\($0)" })
        now.withLock { $0 += 1_000_000 }
        try await waitUntil("the queue drained") { try store.queueDepth() == 0 }
        run.cancel()
        await run.value

        let labels = try store.labels(after: 0, limit: 100)
        #expect(labels.count == 11)
        let seven = labels.filter { $0.label.uri == "at://did:plc:a0/app.bsky.feed.post/7" }
        #expect(seven.count == 1 && seven[0].label.neg == true, "the negation came after its apply")
        #expect(writer.totals.queued == 8 && writer.totals.dequeued == 8)
        let perSecond = Dictionary(grouping: labels, by: { $0.label.cts.prefix(19) }).mapValues(\.count)
        #expect(perSecond.values.allSatisfy { $0 <= 4 })
    }

    /// Labels the global budget left in the queue still go out once the limits are taken out of
    /// the configuration: the service's writer drains the queue with no budget at all.
    @Test func queuedLabelsDrainOnceTheGlobalLimitsAreRemoved() async throws {
        let store = try LabelStore(path: temporaryPath("labels.sqlite"))
        let key = SigningKey.generate(.secp256k1)
        // One second of the clock throughout: a budget that is full stays full.
        let writerConfiguration = LabelWriter.Configuration(
            idleCursorInterval: .milliseconds(20), now: { Datetime(unixMicros: Self.start) },
            drainInterval: .milliseconds(10))
        func serviceWriter(_ configuration: LabelerConfiguration) throws -> LabelWriter {
            try LabelerAssembly(configuration: configuration, environment: [:]).labelWriter(
                store: store, key: key, src: "did:plc:labeler", logger: quietLogger(),
                configuration: writerConfiguration, globalBudget: true, drainsQueue: true)
        }

        var limited = LabelerConfiguration()
        limited.labelsPerSecond = 2
        let first = try serviceWriter(limited)
        let running = Task { await first.run() }
        let submitted = try await first.submitReporting(
            try (0..<6).map { try Self.apply($0, at: Self.start, limits: nil) })
        #expect(submitted.rows.count == 2 && submitted.queued == 4)
        running.cancel()
        await running.value
        #expect(try store.queueDepth() == 4)

        // The same database; the configuration has no limits any more.
        let unlimited = LabelerConfiguration()
        #expect(unlimited.globalBudget == nil)
        let second = try serviceWriter(unlimited)
        let draining = Task { await second.run() }
        try await waitUntil("the leftover queue drained") { try store.queueDepth() == 0 }
        draining.cancel()
        await draining.value
        let labels = try store.labels(after: 0, limit: 100)
        #expect(labels.count == 6)
        #expect(Set(labels.map(\.label.uri)).count == 6)
        #expect(second.totals.dequeued == 4)
    }

    /// A webhook that keeps failing is tried less and less often: each wait twice the one
    /// before, up to a minute; once the alert went out, the alerter is back to its interval.
    @Test func aFailingWebhookIsRetriedLessAndLessOften() async throws {
        let store = try LabelStore(path: temporaryPath("labels.sqlite"))
        var ledger = BudgetLedger()
        for n in 0..<2 {
            _ = ledger.admit(
                rule: "r", limits: BudgetLimits([.minute: 1]), at: Self.start, trippedAt: "2025-06-15T15:06:00.000Z",
                label: "l\(n)")
        }
        _ = try store.commitNow(
            LabelTransaction(
                src: "did:plc:labeler", time: Datetime(unixMicros: Self.start), keyID: 0,
                epoch: try store.snapshotNow(of: [], src: "did:plc:labeler").epoch, budgets: ledger))
        #expect(try store.unalertedTrips().count == 1)

        // The webhook answers 503 seven times, then takes the alert; the eighth wait ends the run.
        let posts = Mutex(0)
        let waits = Mutex<[Duration]>([])
        let alerter = TripAlerter(
            store: store,
            post: { _ in
                posts.withLock { count in
                    count += 1
                    return count <= 7 ? 503 : 200
                }
            },
            interval: .milliseconds(10), retryDelay: .seconds(1),
            sleep: { wait in
                let count = waits.withLock { waits in
                    waits.append(wait)
                    return waits.count
                }
                if count >= 8 { throw CancellationError() }
            },
            logger: quietLogger())
        await alerter.run()
        #expect(waits.withLock { $0 } == [2, 4, 8, 16, 32, 60, 60].map { Duration.seconds($0) } + [.milliseconds(10)])
        #expect(alerter.totals.failed == 7 && alerter.totals.sent == 1)
        #expect(try store.unalertedTrips().isEmpty)
        #expect(TripAlerter.retryDelay(after: .milliseconds(100)) == .milliseconds(200))
        #expect(TripAlerter.retryDelay(after: .seconds(45)) == .seconds(60))
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out.append(try await transform(element)) }
        return out
    }
}
