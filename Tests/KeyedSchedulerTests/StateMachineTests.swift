import KeyedScheduler
import SeededRandom
import Testing

typealias Machine = KeyedSchedulerStateMachine<String, String>

extension KeyedSchedulerStateMachine.SubmitAction {
    /// The started event's seq, when this says start.
    var startedSeq: Int64? {
        if case .start(let job) = self { job.seq } else { nil }
    }

    var isEnqueued: Bool {
        if case .enqueued = self { true } else { false }
    }

    var waitReason: KeyedSchedulerStateMachine.WaitReason? {
        if case .mustWait(let reason) = self { reason } else { nil }
    }
}

func limits(concurrency: Int = 8, queue: Int = 10_000, perKey: Int = 1_000) -> KeyedSchedulerConfiguration {
    KeyedSchedulerConfiguration(concurrency: concurrency, queueLimit: queue, perKeyBacklogLimit: perKey)
}

@Suite("State machine, step by step")
struct StateMachineTests {
    @Test func eventsOfOneKeyRunOneAtATimeInOrder() {
        var machine = Machine(configuration: limits(concurrency: 4))
        #expect(machine.submit(key: "a", seq: 1, payload: "a1").startedSeq == 1)
        #expect(machine.submit(key: "a", seq: 2, payload: "a2").isEnqueued)
        #expect(machine.submit(key: "a", seq: 3, payload: "a3").isEnqueued)
        #expect(machine.metrics.inFlight == 1)
        #expect(machine.metrics.queueDepth == 2)

        let second = machine.finished(key: "a", seq: 1, outcome: .succeeded).start
        #expect(second?.seq == 2)
        #expect(second?.payload == "a2")
        #expect(machine.finished(key: "a", seq: 2, outcome: .succeeded).start?.seq == 3)
        #expect(machine.finished(key: "a", seq: 3, outcome: .succeeded).start == nil)
        #expect(machine.isQuiescent)
        #expect(machine.lowWaterMark == 3)
    }

    @Test func differentKeysRunConcurrentlyUpToTheCap() {
        var machine = Machine(configuration: limits(concurrency: 2))
        #expect(machine.submit(key: "a", seq: 1, payload: "").startedSeq == 1)
        #expect(machine.submit(key: "b", seq: 2, payload: "").startedSeq == 2)
        #expect(machine.submit(key: "c", seq: 3, payload: "").isEnqueued)
        #expect(machine.submit(key: "d", seq: 4, payload: "").isEnqueued)
        #expect(machine.metrics.inFlight == 2)

        // Each freed slot goes to the oldest ready key.
        let third = machine.finished(key: "b", seq: 2, outcome: .succeeded).start
        #expect(third?.key == "c")
        #expect(machine.finished(key: "a", seq: 1, outcome: .succeeded).start?.key == "d")
        #expect(machine.metrics.inFlight == 2)
        #expect(machine.finished(key: "c", seq: 3, outcome: .succeeded).start == nil)
        #expect(machine.metrics.inFlight == 1)
    }

    @Test func aKeyThatFinishesWhileOthersWaitGoesToTheBack() {
        var machine = Machine(configuration: limits(concurrency: 1))
        #expect(machine.submit(key: "a", seq: 1, payload: "").startedSeq == 1)
        #expect(machine.submit(key: "a", seq: 2, payload: "").isEnqueued)
        #expect(machine.submit(key: "b", seq: 3, payload: "").isEnqueued)
        #expect(machine.submit(key: "a", seq: 4, payload: "").isEnqueued)

        #expect(machine.finished(key: "a", seq: 1, outcome: .succeeded).start?.seq == 3)
        #expect(machine.finished(key: "b", seq: 3, outcome: .succeeded).start?.seq == 2)
        // Nothing else waits: the key goes on with its own next event.
        #expect(machine.finished(key: "a", seq: 2, outcome: .succeeded).start?.seq == 4)
        #expect(machine.finished(key: "a", seq: 4, outcome: .succeeded).start == nil)
    }

    @Test func theQueueLimitRefusesWithoutATrace() {
        var machine = Machine(configuration: limits(concurrency: 1, queue: 2))
        #expect(machine.submit(key: "a", seq: 1, payload: "").startedSeq == 1)
        #expect(machine.submit(key: "b", seq: 2, payload: "").isEnqueued)
        #expect(machine.submit(key: "c", seq: 3, payload: "").isEnqueued)
        let before = machine.metrics
        #expect(machine.submit(key: "d", seq: 4, payload: "").waitReason == .queueFull)
        #expect(machine.submit(key: "b", seq: 4, payload: "").waitReason == .queueFull)
        #expect(machine.metrics == before)
        #expect(machine.highestSeq == 3)

        #expect(machine.finished(key: "a", seq: 1, outcome: .succeeded).start?.seq == 2)
        #expect(machine.submit(key: "d", seq: 4, payload: "").isEnqueued)
        #expect(machine.metrics.queueDepth == 2)
    }

    @Test func thePerKeyLimitRefusesOnlyThatKey() {
        var machine = Machine(configuration: limits(concurrency: 1, perKey: 1))
        #expect(machine.submit(key: "a", seq: 1, payload: "").startedSeq == 1)
        #expect(machine.submit(key: "a", seq: 2, payload: "").isEnqueued)
        #expect(machine.submit(key: "a", seq: 3, payload: "").waitReason == .keyBacklogFull)
        #expect(machine.submit(key: "b", seq: 3, payload: "").isEnqueued)
        #expect(machine.submit(key: "b", seq: 4, payload: "").waitReason == .keyBacklogFull)
        #expect(machine.metrics.largestKeyBacklog == 1)

        // b3 starts; a2 still waits, so a's backlog stays full while b's is empty now.
        #expect(machine.finished(key: "a", seq: 1, outcome: .succeeded).start?.seq == 3)
        #expect(machine.submit(key: "a", seq: 4, payload: "").waitReason == .keyBacklogFull)
        #expect(machine.submit(key: "b", seq: 4, payload: "").isEnqueued)
    }

    @Test func aZeroBacklogLimitAdmitsOnlyWhatCanStart() {
        var machine = Machine(configuration: limits(concurrency: 1, queue: 5, perKey: 0))
        #expect(machine.submit(key: "a", seq: 1, payload: "").startedSeq == 1)
        #expect(machine.submit(key: "b", seq: 2, payload: "").waitReason == .keyBacklogFull)
        #expect(machine.finished(key: "a", seq: 1, outcome: .succeeded).start == nil)
        #expect(machine.submit(key: "b", seq: 2, payload: "").startedSeq == 2)
    }

    @Test func theLowWaterMarkFollowsGapsAndOutOfOrderCompletion() {
        var machine = Machine(configuration: limits(concurrency: 4))
        #expect(machine.lowWaterMark == nil)
        for (key, seq) in [("a", 10), ("b", 12), ("c", 15), ("d", 20)] as [(String, Int64)] {
            #expect(machine.submit(key: key, seq: seq, payload: "").startedSeq == seq)
        }
        #expect(machine.finished(key: "c", seq: 15, outcome: .succeeded).advancedLowWaterMark == nil)
        #expect(machine.lowWaterMark == nil)
        #expect(machine.finished(key: "a", seq: 10, outcome: .succeeded).advancedLowWaterMark == 10)
        #expect(machine.finished(key: "d", seq: 20, outcome: .succeeded).advancedLowWaterMark == nil)
        #expect(machine.lowWaterMark == 10)
        // 12 was the last one holding back 15 and 20.
        #expect(machine.finished(key: "b", seq: 12, outcome: .succeeded).advancedLowWaterMark == 20)
        #expect(machine.lowWaterMark == 20)
    }

    @Test func theMarkCountsQueuedEventsAsUnfinished() {
        var machine = Machine(configuration: limits(concurrency: 1))
        #expect(machine.submit(key: "a", seq: 1, payload: "").startedSeq == 1)
        #expect(machine.submit(key: "b", seq: 2, payload: "").isEnqueued)
        #expect(machine.submit(key: "c", seq: 3, payload: "").isEnqueued)
        #expect(machine.finished(key: "a", seq: 1, outcome: .succeeded).advancedLowWaterMark == 1)
        #expect(machine.finished(key: "b", seq: 2, outcome: .succeeded).advancedLowWaterMark == 2)
        #expect(machine.lowWaterMark == 2)
    }

    @Test func failedAndTimedOutEventsCountAsFinished() {
        var machine = Machine(configuration: limits(concurrency: 2))
        #expect(machine.submit(key: "a", seq: 1, payload: "").startedSeq == 1)
        #expect(machine.submit(key: "a", seq: 2, payload: "").isEnqueued)
        #expect(machine.submit(key: "b", seq: 3, payload: "").startedSeq == 3)

        let afterFailure = machine.finished(key: "a", seq: 1, outcome: .failed)
        #expect(afterFailure.start?.seq == 2)
        #expect(afterFailure.advancedLowWaterMark == 1)
        #expect(machine.finished(key: "a", seq: 2, outcome: .timedOut).advancedLowWaterMark == 2)
        #expect(machine.finished(key: "b", seq: 3, outcome: .succeeded).advancedLowWaterMark == 3)

        let metrics = machine.metrics
        #expect(metrics.submitted == 3)
        #expect(metrics.finished == 3)
        #expect(metrics.failed == 1)
        #expect(metrics.timedOut == 1)
        #expect(metrics.abandoned == 0)
    }

    @Test func anAbandonedEventHoldsTheMarkBelowIt() {
        var machine = Machine(configuration: limits(concurrency: 2))
        #expect(machine.submit(key: "a", seq: 1, payload: "").startedSeq == 1)
        #expect(machine.submit(key: "b", seq: 2, payload: "").startedSeq == 2)
        #expect(machine.submit(key: "c", seq: 3, payload: "").isEnqueued)
        #expect(machine.finished(key: "a", seq: 1, outcome: .succeeded).start?.seq == 3)
        #expect(machine.finished(key: "b", seq: 2, outcome: .abandoned).advancedLowWaterMark == nil)
        #expect(machine.finished(key: "c", seq: 3, outcome: .succeeded).advancedLowWaterMark == nil)
        #expect(machine.lowWaterMark == 1)
        #expect(machine.metrics.abandoned == 1)
        #expect(machine.metrics.finished == 2)
    }

    @Test func startingAfterIsTheMarkUntilALaterOneIsReached() {
        var machine = Machine(configuration: limits(), startingAfter: 100)
        #expect(machine.lowWaterMark == 100)
        #expect(machine.highestSeq == 100)
        #expect(machine.submit(key: "a", seq: 105, payload: "").startedSeq == 105)
        #expect(machine.submit(key: "b", seq: 107, payload: "").startedSeq == 107)
        #expect(machine.finished(key: "b", seq: 107, outcome: .succeeded).advancedLowWaterMark == nil)
        #expect(machine.lowWaterMark == 100)
        #expect(machine.finished(key: "a", seq: 105, outcome: .succeeded).advancedLowWaterMark == 107)
    }

    @Test func abortStartsNothingMore() {
        var machine = Machine(configuration: limits(concurrency: 1))
        #expect(machine.submit(key: "a", seq: 1, payload: "").startedSeq == 1)
        #expect(machine.submit(key: "a", seq: 2, payload: "").isEnqueued)
        #expect(machine.submit(key: "b", seq: 3, payload: "").isEnqueued)
        machine.abort()
        #expect(!machine.isQuiescent)
        #expect(machine.finished(key: "a", seq: 1, outcome: .abandoned).start == nil)
        #expect(machine.isQuiescent)
        #expect(machine.lowWaterMark == nil)
        #expect(machine.metrics.queueDepth == 2)
    }

    @Test func largestKeyBacklogRisesAndFalls() {
        var machine = Machine(configuration: limits(concurrency: 2))
        #expect(machine.submit(key: "a", seq: 1, payload: "").startedSeq == 1)
        #expect(machine.submit(key: "b", seq: 2, payload: "").startedSeq == 2)
        for seq: Int64 in 3...5 { #expect(machine.submit(key: "a", seq: seq, payload: "").isEnqueued) }
        for seq: Int64 in 6...7 { #expect(machine.submit(key: "b", seq: seq, payload: "").isEnqueued) }
        #expect(machine.metrics.largestKeyBacklog == 3)
        _ = machine.finished(key: "a", seq: 1, outcome: .succeeded)  // starts a3
        #expect(machine.metrics.largestKeyBacklog == 2)
        _ = machine.finished(key: "a", seq: 3, outcome: .succeeded)  // starts a4
        #expect(machine.metrics.largestKeyBacklog == 2)  // b still has 2
        _ = machine.finished(key: "b", seq: 2, outcome: .succeeded)  // starts b6
        #expect(machine.metrics.largestKeyBacklog == 1)
        _ = machine.finished(key: "a", seq: 4, outcome: .succeeded)  // starts a5
        _ = machine.finished(key: "b", seq: 6, outcome: .succeeded)  // starts b7
        #expect(machine.metrics.largestKeyBacklog == 0)
    }

    /// Random submissions and completions, checked after every step against a brute-force
    /// model: per-key order, one running event per key, the concurrency cap, no idle slot while
    /// an event could start, bounds, and the low-water mark.
    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func randomRunsMatchAReferenceModel(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let concurrency = 1 + random.next(below: 4)
        let configuration = limits(
            concurrency: concurrency, queue: 3 + random.next(below: 10), perKey: 1 + random.next(below: 3))
        let keys = ["a", "b", "c", "d", "e", "f"]
        var machine = Machine(configuration: configuration, startingAfter: 5)
        var model = ReferenceModel(startingAfter: 5)
        var running: [(key: String, seq: Int64)] = []
        var pending: (key: String, seq: Int64)?
        var nextSeq: Int64 = 6

        for _ in 0..<3_000 {
            if running.isEmpty || random.next(below: 100) < 55 {
                let offer = pending ?? (keys[random.next(below: keys.count)], nextSeq)
                nextSeq = offer.seq + 1 + Int64(random.next(below: 3))
                let action = machine.submit(key: offer.key, seq: offer.seq, payload: "\(offer.seq)")
                if let reason = action.waitReason {
                    #expect(model.mustWait(key: offer.key, configuration) == reason)
                    pending = offer
                    continue
                }
                #expect(model.mustWait(key: offer.key, configuration) == nil)
                pending = nil
                model.submit(key: offer.key, seq: offer.seq)
                if let seq = action.startedSeq {
                    #expect(seq == offer.seq)
                    model.start(key: offer.key, seq: seq)
                    running.append((offer.key, seq))
                }
            } else {
                let (key, seq) = running.remove(at: random.next(below: running.count))
                let roll = random.next(below: 100)
                let outcome: EventOutcome =
                    roll < 80 ? .succeeded : roll < 90 ? .failed : roll < 99 ? .timedOut : .abandoned
                let completion = machine.finished(key: key, seq: seq, outcome: outcome)
                model.finish(key: key, seq: seq, counted: outcome != .abandoned)
                if let job = completion.start {
                    model.start(key: job.key, seq: job.seq)
                    running.append((job.key, job.seq))
                }
            }
            #expect(running.count <= concurrency)
            #expect(Set(running.map(\.key)).count == running.count)
            // Work-conserving: a free slot means no key could start.
            #expect(running.count == concurrency || !model.hasStartableKey)
            #expect(machine.lowWaterMark == model.lowWaterMark)
            #expect(machine.metrics.inFlight == running.count)
            #expect(machine.metrics.queueDepth == model.queueDepth)
            #expect(machine.metrics.largestKeyBacklog == model.largestBacklog)
        }
    }
}

/// The rules, written the slow and obvious way.
struct ReferenceModel {
    var submitted: [Int64] = []
    var finished: Set<Int64> = []
    var waiting: [String: [Int64]] = [:]
    var runningKeys: Set<String> = []
    var markedUpTo = 0
    let startingAfter: Int64?

    init(startingAfter: Int64?) { self.startingAfter = startingAfter }

    var queueDepth: Int { waiting.values.reduce(0) { $0 + $1.count } }
    var largestBacklog: Int { waiting.values.map(\.count).max() ?? 0 }
    var hasStartableKey: Bool { waiting.contains { !$0.value.isEmpty && !runningKeys.contains($0.key) } }

    /// The highest submitted seq with every submitted seq up to it finished.
    var lowWaterMark: Int64? {
        mutating get {
            while markedUpTo < submitted.count && finished.contains(submitted[markedUpTo]) {
                markedUpTo += 1
            }
            return markedUpTo == 0 ? startingAfter : submitted[markedUpTo - 1]
        }
    }

    func mustWait(key: String, _ configuration: KeyedSchedulerConfiguration) -> Machine.WaitReason? {
        let backlog = waiting[key, default: []].count
        let couldStart = backlog == 0 && !runningKeys.contains(key) && runningKeys.count < configuration.concurrency
        if couldStart { return nil }
        if backlog >= configuration.perKeyBacklogLimit { return .keyBacklogFull }
        if queueDepth >= configuration.queueLimit { return .queueFull }
        return nil
    }

    mutating func submit(key: String, seq: Int64) {
        submitted.append(seq)
        waiting[key, default: []].append(seq)
    }

    mutating func start(key: String, seq: Int64) {
        #expect(!runningKeys.contains(key), "two running events for key \(key)")
        #expect(waiting[key]?.first == seq, "key \(key) started out of order")
        waiting[key]?.removeFirst()
        runningKeys.insert(key)
    }

    mutating func finish(key: String, seq: Int64, counted: Bool) {
        runningKeys.remove(key)
        if counted { finished.insert(seq) }
    }
}
