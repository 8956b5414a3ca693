import KeyedScheduler
import SeededRandom
import Testing

/// What the handlers of a random run saw, checked as they ran.
struct RunObservations: Sendable {
    var runningKeys: Set<Int> = []
    var inFlight = 0
    var largestInFlight = 0
    var startedPerKey: [Int: [Int64]] = [:]
    /// By event index.
    var finished: [Bool]
    var firstUnfinished = 0
    var marksSeen = 0
    var lastMark: Int64?
    var violations: [String] = []

    init(events: Int) { finished = Array(repeating: false, count: events) }
}

@Suite("Scheduler under real concurrency", .timeLimit(.minutes(5)))
struct SchedulerInvariantTests {
    /// Thousands of events over a few dozen keys with random (seeded) work: yields, short
    /// sleeps or nothing. Small bounds make the producer wait often. Submitted one by one
    /// (`batch` 1) or in batches, which then often wait part-admitted.
    @Test(
        arguments: [
            (seed: 1, concurrency: 1, batch: 1), (seed: 2, concurrency: 4, batch: 1),
            (seed: 3, concurrency: 8, batch: 1),
            (seed: 4, concurrency: 1, batch: 7), (seed: 5, concurrency: 4, batch: 16),
            (seed: 6, concurrency: 8, batch: 64),
        ] as [(seed: UInt64, concurrency: Int, batch: Int)])
    func invariantsHoldWithRandomWork(seed: UInt64, concurrency: Int, batch: Int) async throws {
        var random = SplitMix64(seed: seed)
        var events: [(key: Int, seq: Int64, work: Int)] = []
        var seq: Int64 = 1_000
        for _ in 0..<2_000 {
            seq += 1 + Int64(random.next(below: 3))  // gaps
            // Skewed keys: low numbers are busier.
            let key = min(random.next(below: 40), random.next(below: 40))
            events.append((key, seq, random.next(below: 100)))
        }
        let plan = events
        let observations = Shared(RunObservations(events: plan.count))
        let scheduler = KeyedScheduler<Int, Int>(
            configuration: KeyedSchedulerConfiguration(concurrency: concurrency, queueLimit: 32, perKeyBacklogLimit: 4)
        ) { key, seq, index in
            observations.withLock { seen in
                if seen.runningKeys.contains(key) { seen.violations.append("two events of key \(key) at once") }
                seen.runningKeys.insert(key)
                seen.inFlight += 1
                seen.largestInFlight = max(seen.largestInFlight, seen.inFlight)
                seen.startedPerKey[key, default: []].append(seq)
            }
            let work = plan[index].work
            if work < 10 {
                try await Task.sleep(for: .microseconds(20 * work))
            } else if work < 60 {
                for _ in 0..<(work % 5) { await Task.yield() }
            }
            observations.withLock { seen in
                seen.runningKeys.remove(key)
                seen.inFlight -= 1
                seen.finished[index] = true
                while seen.firstUnfinished < seen.finished.count && seen.finished[seen.firstUnfinished] {
                    seen.firstUnfinished += 1
                }
            }
        }
        // Every advance that is observed must stay below the oldest unfinished event.
        let watcher = Task {
            for await mark in scheduler.lowWaterMarks {
                observations.withLock { seen in
                    seen.marksSeen += 1
                    if let last = seen.lastMark, mark <= last {
                        seen.violations.append("mark went from \(last) to \(mark)")
                    }
                    seen.lastMark = mark
                    if seen.firstUnfinished < plan.count && mark >= plan[seen.firstUnfinished].seq {
                        seen.violations.append("mark \(mark) passed unfinished \(plan[seen.firstUnfinished].seq)")
                    }
                }
            }
        }

        let finalMark = try await withRunning(scheduler) {
            if batch == 1 {
                for (index, event) in plan.enumerated() {
                    try await scheduler.submit(key: event.key, seq: event.seq, payload: index)
                }
            } else {
                for start in stride(from: 0, to: plan.count, by: batch) {
                    let indices = start..<min(start + batch, plan.count)
                    try await scheduler.submit(indices.map { .init(key: plan[$0].key, seq: plan[$0].seq, payload: $0) })
                }
            }
            return await scheduler.shutdown(gracePeriod: .seconds(120))
        }
        await watcher.value

        let seen = observations.current
        #expect(seen.violations == [])
        #expect(seen.largestInFlight <= concurrency)
        #expect(seen.marksSeen > 0)
        #expect(finalMark == plan.last?.seq)
        #expect(seen.lastMark == finalMark)
        let submittedPerKey = Dictionary(grouping: plan, by: \.key).mapValues { $0.map(\.seq) }
        #expect(seen.startedPerKey == submittedPerKey)
        let metrics = scheduler.metrics
        #expect(metrics.submitted == plan.count)
        #expect(metrics.finished == plan.count)
        #expect(metrics.inFlight == 0 && metrics.queueDepth == 0 && metrics.waitingSubmitters == 0)
    }
}
