import KeyedScheduler
import TestSupport
import Testing

@Suite("Scheduler shutdown", .timeLimit(.minutes(5)))
struct SchedulerShutdownTests {
    @Test func gracefulShutdownDrainsQueuedWorkAndReportsTheFinalMark() async throws {
        let scheduler = KeyedScheduler<Int, Int>(
            configuration: KeyedSchedulerConfiguration(concurrency: 2)
        ) { _, _, _ in
            await Task.yield()
        }
        let marks = Task {
            var seen: [Int64] = []
            for await mark in scheduler.lowWaterMarks { seen.append(mark) }
            return seen
        }
        let mark = try await withRunning(scheduler) {
            for seq: Int64 in 1...300 {
                try await scheduler.submit(key: Int(seq % 7), seq: seq, payload: 0)
            }
            // A deadline far enough that only a scheduler that stops draining reaches it (a busy
            // machine can leave these tasks waiting for a thread for a long time).
            return await scheduler.shutdown(gracePeriod: .seconds(240))
        }
        #expect(mark == 300)
        let metrics = scheduler.metrics
        #expect(metrics.finished == 300)
        #expect(metrics.inFlight == 0 && metrics.queueDepth == 0)
        // The stream ends after the final mark.
        #expect(await marks.value.last == 300)
        await #expect(throws: KeyedSchedulerError.shutDown) {
            try await scheduler.submit(key: 0, seq: 301, payload: 0)
        }
    }

    /// Work still running at the deadline is cancelled and not counted finished; work queued
    /// behind it never starts. The mark stays below both, so both are redone after a restart.
    @Test func theDeadlineCancelsStragglersAndTheMarkStaysBelowThem() async throws {
        let sawCancellation = Shared(false)
        let ran = Shared<Set<Int64>>([])
        let scheduler = KeyedScheduler<String, Int>(
            configuration: KeyedSchedulerConfiguration(concurrency: 2, timeout: nil)
        ) { _, seq, _ in
            ran.withLock { _ = $0.insert(seq) }
            guard seq == 1 else { return }
            do {
                try await Task.sleep(for: .seconds(60))
            } catch {
                sawCancellation.withLock { $0 = true }
                throw error
            }
        }
        let mark = try await withRunning(scheduler) {
            try await scheduler.submit(key: "a", seq: 0, payload: 0)
            try await scheduler.submit(key: "a", seq: 1, payload: 0)
            try await scheduler.submit(key: "a", seq: 2, payload: 0)
            try await scheduler.submit(key: "b", seq: 3, payload: 0)
            try await waitUntil("the quick events to finish") { scheduler.metrics.finished == 2 }
            return await scheduler.shutdown(gracePeriod: .milliseconds(100))
        }
        #expect(mark == 0)
        #expect(sawCancellation.current)
        #expect(ran.current == [0, 1, 3])
        let metrics = scheduler.metrics
        #expect(metrics.abandoned == 1)
        #expect(metrics.finished == 2)
        #expect(metrics.failed == 0)
        #expect(metrics.inFlight == 0)
        #expect(metrics.queueDepth == 1)
    }

    @Test func cancellingRunAbandonsRunningWork() async throws {
        let running = Shared(false)
        let scheduler = KeyedScheduler<String, Int> { _, _, _ in
            running.withLock { $0 = true }
            try await Task.sleep(for: .seconds(60))
        }
        let runner = Task { await scheduler.run() }
        try await scheduler.submit(key: "a", seq: 7, payload: 0)
        try await waitUntil("the handler to start") { running.current }
        runner.cancel()
        await runner.value
        #expect(scheduler.metrics.abandoned == 1)
        #expect(scheduler.metrics.finished == 0)
        #expect(scheduler.lowWaterMark == nil)
        await #expect(throws: KeyedSchedulerError.shutDown) {
            try await scheduler.submit(key: "a", seq: 8, payload: 0)
        }
        #expect(await scheduler.shutdown(gracePeriod: .seconds(10)) == nil)
    }

    @Test func withoutRunQueuedWorkIsAbandonedAtTheDeadline() async throws {
        let scheduler = KeyedScheduler<String, Int>(
            configuration: KeyedSchedulerConfiguration(concurrency: 2),
            startingAfter: 10
        ) { _, _, _ in }
        for seq: Int64 in 11...14 {
            try await scheduler.submit(key: "k\(seq)", seq: seq, payload: 0)
        }
        #expect(await scheduler.shutdown(gracePeriod: .milliseconds(20)) == 10)
        #expect(scheduler.metrics.abandoned == 2)
        #expect(scheduler.metrics.queueDepth == 2)
        await scheduler.run()  // returns at once: the scheduler has stopped
    }

    @Test func shutdownWithNothingToDoReturnsAtOnce() async {
        let scheduler = KeyedScheduler<String, Int>(startingAfter: 3) { _, _, _ in }
        let runner = Task { await scheduler.run() }
        #expect(await scheduler.shutdown(gracePeriod: .seconds(60)) == 3)
        await runner.value
    }
}
