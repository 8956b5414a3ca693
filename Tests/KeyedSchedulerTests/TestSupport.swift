import KeyedScheduler
import SeededRandom
import Synchronization
import Testing

/// A latch that handlers wait on until the test opens it.
final class Gate: Sendable {
    private let state = Mutex<(isOpen: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { continuation in
            state.withLock { state in
                if state.isOpen { continuation.resume() } else { state.waiters.append(continuation) }
            }
        }
    }

    func open() {
        let waiters = state.withLock { state in
            state.isOpen = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// A value shared between a test and its handlers.
final class Shared<Value: Sendable>: Sendable {
    private let value: Mutex<Value>

    init(_ value: Value) { self.value = Mutex(value) }

    func withLock<Result: Sendable>(_ body: (inout Value) -> Result) -> Result {
        value.withLock { body(&$0) }
    }

    var current: Value { value.withLock { $0 } }
}

/// Runs `body` while `scheduler.run()` goes on in another task, then shuts the scheduler down
/// (at once, if `body` did not) and waits for `run()` to return; a throwing `body` cancels it.
func withRunning<Key, Payload, Result: Sendable>(
    _ scheduler: KeyedScheduler<Key, Payload>,
    _ body: () async throws -> Result
) async throws -> Result {
    let runner = Task { await scheduler.run() }
    do {
        let result = try await body()
        _ = await scheduler.shutdown(gracePeriod: .zero)
        await runner.value
        return result
    } catch {
        runner.cancel()
        await runner.value
        throw error
    }
}
