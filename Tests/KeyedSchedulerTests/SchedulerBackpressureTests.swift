import KeyedScheduler
import TestSupport
import Testing

@Suite("Scheduler backpressure", .timeLimit(.minutes(5)))
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
            #expect(await scheduler.shutdown(gracePeriod: .seconds(120)) == 3)
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
            #expect(await scheduler.shutdown(gracePeriod: .seconds(120)) == 3)
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
            #expect(await scheduler.shutdown(gracePeriod: .seconds(120)) == 0)
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
            #expect(await scheduler.shutdown(gracePeriod: .seconds(120)) == 53)
        }
    }
}

@Suite("Scheduler batch submission", .timeLimit(.minutes(5)))
struct SchedulerBatchTests {
    /// A batch that does not fit is admitted as room appears; the submitter waits once, until
    /// its last event is in, and the events before the one that waited run meanwhile.
    @Test func aBatchWaitsOnceUntilItsLastEventIsAdmitted() async throws {
        let gate = Gate()
        let started = Shared<[Int64]>([])
        let scheduler = KeyedScheduler<String, Int>(
            configuration: KeyedSchedulerConfiguration(concurrency: 2, queueLimit: 2, perKeyBacklogLimit: 10)
        ) { _, seq, _ in
            started.withLock { $0.append(seq) }
            await gate.wait()
        }
        try await withRunning(scheduler) {
            // a and b start, c and d queue, e must wait: the submitter holds e and f.
            let batch: [KeyedScheduler<String, Int>.Submission] = ["a", "b", "c", "d", "e", "f"].enumerated().map {
                .init(key: $0.element, seq: Int64($0.offset + 1), payload: 0)
            }
            let admitted = Shared(false)
            let submitter = Task {
                try await scheduler.submit(batch)
                admitted.withLock { $0 = true }
            }
            try await waitUntil("the batch to wait") { scheduler.metrics.waitingSubmitters == 1 }
            #expect(scheduler.metrics.submitted == 4)
            #expect(scheduler.metrics.queueDepth == 2)
            #expect(!admitted.current)
            try await waitUntil("the first two to start") { started.current.count == 2 }

            gate.open()
            try await submitter.value
            #expect(admitted.current)
            #expect(await scheduler.shutdown(gracePeriod: .seconds(120)) == 6)
            #expect(started.current.sorted() == [1, 2, 3, 4, 5, 6])
        }
    }

    /// Events of one key in a batch run in batch order, and the low-water mark never passes
    /// an event that has not finished.
    @Test func aBatchKeepsPerKeyOrderAndTheLowWaterMark() async throws {
        let order = Shared<[Int64]>([])
        let gate = Gate()
        let scheduler = KeyedScheduler<String, Int>(
            configuration: KeyedSchedulerConfiguration(concurrency: 4)
        ) { _, seq, _ in
            if seq == 2 { await gate.wait() }
            order.withLock { $0.append(seq) }
        }
        try await withRunning(scheduler) {
            try await scheduler.submit(
                (1...40).map { .init(key: $0 % 2 == 0 ? "even" : "odd", seq: Int64($0), payload: 0) })
            try await waitUntil("the odd key to finish") { order.current.filter { $0 % 2 == 1 }.count == 20 }
            // Seq 2 holds back the even key, and the mark stays below it.
            #expect(scheduler.lowWaterMark == 1)
            gate.open()
            #expect(await scheduler.shutdown(gracePeriod: .seconds(120)) == 40)
            let seen = order.current
            #expect(seen.filter { $0 % 2 == 0 } == Array(stride(from: 2, through: 40, by: 2)))
            #expect(seen.filter { $0 % 2 == 1 } == Array(stride(from: 1, through: 39, by: 2)))
        }
    }

    @Test func aBatchWithASeqOutOfOrderIsRefusedWhole() async throws {
        let scheduler = KeyedScheduler<String, Int>(startingAfter: 10) { _, _, _ in }
        try await withRunning(scheduler) {
            await #expect(throws: KeyedSchedulerError.seqNotIncreasing(seq: 12, previous: 13)) {
                try await scheduler.submit([
                    .init(key: "a", seq: 11, payload: 0), .init(key: "a", seq: 13, payload: 0),
                    .init(key: "b", seq: 12, payload: 0),
                ])
            }
            #expect(scheduler.metrics.submitted == 0)
            try await scheduler.submit([])
            try await scheduler.submit([.init(key: "a", seq: 11, payload: 0), .init(key: "b", seq: 12, payload: 0)])
            #expect(await scheduler.shutdown(gracePeriod: .seconds(120)) == 12)
        }
    }

    /// A cancelled batch keeps what was admitted before it waited; the rest is not taken.
    @Test func aCancelledBatchKeepsItsAdmittedPrefix() async throws {
        let gate = Gate()
        let scheduler = KeyedScheduler<String, Int>(
            configuration: KeyedSchedulerConfiguration(concurrency: 1, queueLimit: 1)
        ) { _, _, _ in await gate.wait() }
        try await withRunning(scheduler) {
            let submitter = Task { () async -> KeyedSchedulerError? in
                do throws(KeyedSchedulerError) {
                    try await scheduler.submit((1...5).map { .init(key: "k\($0)", seq: Int64($0), payload: 0) })
                    return nil
                } catch {
                    return error
                }
            }
            try await waitUntil("the batch to wait") { scheduler.metrics.waitingSubmitters == 1 }
            submitter.cancel()
            #expect(await submitter.value == .cancelled)
            #expect(scheduler.metrics.submitted == 2)
            gate.open()
            #expect(await scheduler.shutdown(gracePeriod: .seconds(120)) == 2)
            #expect(scheduler.metrics.waitingSubmitters == 0)
        }
    }
}
