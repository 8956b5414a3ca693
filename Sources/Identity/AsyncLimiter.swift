import Synchronization

/// At most `limit` holders at a time; the others wait in arrival order. Bounds the DID lookups
/// the commit verifier has in flight, so a burst of new accounts cannot open a connection each.
final class AsyncLimiter: Sendable {
    private struct State {
        var available: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
        var first = 0
    }

    private let state: Mutex<State>

    init(limit: Int) {
        precondition(limit > 0, "a limiter lets at least one holder in")
        state = Mutex(State(available: limit))
    }

    /// Runs `body` holding one of the places.
    func run<T>(_ body: () async throws(IdentityError) -> T) async throws(IdentityError) -> T {
        await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let enter = state.withLock { state -> Bool in
                if state.available > 0 {
                    state.available -= 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if enter { continuation.resume() }
        }
    }

    /// Hands the place to the longest waiter, or frees it.
    private func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard state.first < state.waiters.count else {
                state.available += 1
                return nil
            }
            let next = state.waiters[state.first]
            state.first += 1
            if state.first == state.waiters.count {
                state.waiters.removeAll(keepingCapacity: true)
                state.first = 0
            }
            return next
        }
        next?.resume()
    }
}
