import KeyedScheduler
import Testing

struct Boom: Error, Equatable {
    let seq: Int64
}

@Suite("Scheduler failures and timeouts", .timeLimit(.minutes(5)))
struct SchedulerFailureTests {
    @Test func aThrowingHandlerIsReportedCountedAndItsKeyMovesOn() async throws {
        let reported = Shared<[(key: String, seq: Int64, error: Boom?)]>([])
        let ran = Shared<[String: [Int64]]>([:])
        let scheduler = KeyedScheduler<String, Int>(
            configuration: KeyedSchedulerConfiguration(concurrency: 2),
            onFailure: { key, seq, failure in
                guard case .threw(let error) = failure else { return }
                reported.withLock { $0.append((key, seq, error as? Boom)) }
            }
        ) { key, seq, _ in
            ran.withLock { $0[key, default: []].append(seq) }
            if seq % 3 == 0 { throw Boom(seq: seq) }
        }
        let mark = try await withRunning(scheduler) {
            for seq: Int64 in 0..<30 {
                try await scheduler.submit(key: seq % 2 == 0 ? "even" : "odd", seq: seq, payload: 0)
            }
            return await scheduler.shutdown(gracePeriod: .seconds(120))
        }
        #expect(mark == 29)
        #expect(ran.current["even"] == Array(stride(from: 0, to: 30, by: 2)))
        #expect(ran.current["odd"] == Array(stride(from: 1, to: 30, by: 2)))
        let failures = reported.current.sorted { $0.seq < $1.seq }
        #expect(failures.map(\.seq) == Array(stride(from: 0, to: 30, by: 3)))
        #expect(failures.allSatisfy { $0.error == Boom(seq: $0.seq) })
        #expect(scheduler.metrics.failed == 10)
        #expect(scheduler.metrics.finished == 30)
    }

    @Test func aHandlerPastTheTimeoutIsCancelledAndCountedFinished() async throws {
        let sawCancellation = Shared(false)
        let timedOut = Shared<[(key: String, seq: Int64)]>([])
        let ran = Shared<[Int64]>([])
        let scheduler = KeyedScheduler<String, Int>(
            configuration: KeyedSchedulerConfiguration(concurrency: 2, timeout: .milliseconds(100)),
            onFailure: { key, seq, failure in
                if case .timedOut(let after, let error) = failure, after == .milliseconds(100),
                    error.map({ $0 is CancellationError }) == true
                {
                    timedOut.withLock { $0.append((key, seq)) }
                }
            }
        ) { _, seq, _ in
            ran.withLock { $0.append(seq) }
            guard seq == 1 else { return }
            do {
                try await Task.sleep(for: .seconds(60))
            } catch {
                sawCancellation.withLock { $0 = true }
                throw error
            }
        }
        let mark = try await withRunning(scheduler) {
            try await scheduler.submit(key: "a", seq: 1, payload: 0)
            try await scheduler.submit(key: "a", seq: 2, payload: 0)
            try await scheduler.submit(key: "b", seq: 3, payload: 0)
            // The drain waits for the timeout, after which the key's next event runs.
            return await scheduler.shutdown(gracePeriod: .seconds(120))
        }
        #expect(mark == 3)
        #expect(sawCancellation.current)
        #expect(timedOut.current.map(\.seq) == [1])
        #expect(ran.current.filter { $0 != 3 } == [1, 2])
        #expect(scheduler.metrics.timedOut == 1)
        #expect(scheduler.metrics.finished == 3)
    }

    @Test func workersGoOnAfterRepeatedTimeouts() async throws {
        let scheduler = KeyedScheduler<Int, Int>(
            configuration: KeyedSchedulerConfiguration(concurrency: 2, timeout: .milliseconds(20))
        ) { _, seq, _ in
            if seq % 4 == 0 { try await Task.sleep(for: .seconds(60)) }
        }
        let mark = try await withRunning(scheduler) {
            for seq: Int64 in 0..<16 {
                try await scheduler.submit(key: Int(seq % 3), seq: seq, payload: 0)
            }
            return await scheduler.shutdown(gracePeriod: .seconds(120))
        }
        #expect(mark == 15)
        #expect(scheduler.metrics.timedOut == 4)
        #expect(scheduler.metrics.finished == 16)
    }
}
