import KeyedScheduler
import Testing

@Suite("Scheduler backpressure", .timeLimit(.minutes(1)))
struct SchedulerBackpressureTests {
    @Test func submitSuspendsAtTheQueueLimitAndResumesWhenThereIsRoom() async throws {
        let gate = Gate()
        let scheduler = KeyedScheduler<String, Int>(
            configuration: KeyedSchedulerConfiguration(concurrency: 1, queueLimit: 2, perKeyBacklogLimit: 10)
        ) { _, seq, _ in
            if seq == 0 { await gate.wait() }
        }
        try await withRunning(scheduler) {
            try await scheduler.submit(key: "a", seq: 0, payload: 0)
            try await scheduler.submit(key: "b", seq: 1, payload: 0)
            try await scheduler.submit(key: "c", seq: 2, payload: 0)
            let accepted = Shared(false)
            let blocked = Task {
                try await scheduler.submit(key: "d", seq: 3, payload: 0)
                accepted.withLock { $0 = true }
            }
            try await waitUntil("the submitter to wait") { scheduler.metrics.waitingSubmitters == 1 }
            #expect(!accepted.current)
            #expect(scheduler.metrics.queueDepth == 2)
            #expect(scheduler.metrics.submitted == 3)

            gate.open()
            try await blocked.value
            #expect(accepted.current)
            #expect(await scheduler.shutdown(gracePeriod: .seconds(10)) == 3)
        }
    }

    /// A full backlog of one key holds back every later submission, of any key, so admission
    /// stays in arrival order; they are admitted one by one as the key's backlog shrinks.
    @Test func aFullKeyBacklogHoldsBackLaterSubmittersInOrder() async throws {
        let gate = Gate()
        let started = Shared<[Int64]>([])
        let scheduler = KeyedScheduler<String, Int>(
            configuration: KeyedSchedulerConfiguration(concurrency: 2, perKeyBacklogLimit: 1)
        ) { _, seq, _ in
            started.withLock { $0.append(seq) }
            if seq == 0 { await gate.wait() }
        }
        try await withRunning(scheduler) {
            try await scheduler.submit(key: "a", seq: 0, payload: 0)
            try await scheduler.submit(key: "a", seq: 1, payload: 0)
            let hotKey = Task { try await scheduler.submit(key: "a", seq: 2, payload: 0) }
            try await waitUntil("the hot key's submitter to wait") { scheduler.metrics.waitingSubmitters == 1 }
            let otherKey = Task { try await scheduler.submit(key: "b", seq: 3, payload: 0) }
            try await waitUntil("the next submitter to queue behind") { scheduler.metrics.waitingSubmitters == 2 }
            #expect(scheduler.metrics.largestKeyBacklog == 1)
            #expect(!started.current.contains(3))

            gate.open()
            try await hotKey.value
            try await otherKey.value
            #expect(await scheduler.shutdown(gracePeriod: .seconds(10)) == 3)
            #expect(started.current.filter { $0 != 3 } == [0, 1, 2])
        }
    }

    @Test func aCancelledSubmitterThrowsAndItsEventIsNotTaken() async throws {
        let gate = Gate()
        let scheduler = KeyedScheduler<String, Int>(
            configuration: KeyedSchedulerConfiguration(concurrency: 1, queueLimit: 0)
        ) { _, seq, _ in
            if seq == 0 { await gate.wait() }
        }
        try await withRunning(scheduler) {
            try await scheduler.submit(key: "a", seq: 0, payload: 0)
            let blocked = Task { () async -> KeyedSchedulerError? in
                do throws(KeyedSchedulerError) {
                    try await scheduler.submit(key: "b", seq: 1, payload: 0)
                    return nil
                } catch {
                    return error
                }
            }
            try await waitUntil("the submitter to wait") { scheduler.metrics.waitingSubmitters == 1 }
            blocked.cancel()
            #expect(await blocked.value == .cancelled)
            #expect(scheduler.metrics.waitingSubmitters == 0)

            gate.open()
            #expect(await scheduler.shutdown(gracePeriod: .seconds(10)) == 0)
            #expect(scheduler.metrics.submitted == 1)
        }
    }

    @Test func seqsMustIncreaseAboveTheStartingCursor() async throws {
        let scheduler = KeyedScheduler<String, Int>(startingAfter: 50) { _, _, _ in }
        #expect(scheduler.lowWaterMark == 50)
        try await withRunning(scheduler) {
            await #expect(throws: KeyedSchedulerError.seqNotIncreasing(seq: 50, previous: 50)) {
                try await scheduler.submit(key: "a", seq: 50, payload: 0)
            }
            try await scheduler.submit(key: "a", seq: 53, payload: 0)
            await #expect(throws: KeyedSchedulerError.seqNotIncreasing(seq: 52, previous: 53)) {
                try await scheduler.submit(key: "b", seq: 52, payload: 0)
            }
            #expect(await scheduler.shutdown(gracePeriod: .seconds(10)) == 53)
        }
    }
}
