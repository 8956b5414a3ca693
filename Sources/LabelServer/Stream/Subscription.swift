import Synchronization

/// One live `subscribeLabels` connection as the broadcaster sees it: a wake-up flag, the last
/// seq sent (to measure lag), and why it must stop, if it must.
///
/// A wake-up carries no data: the subscriber reads rows after its own position, so any number of
/// wake-ups between two reads collapse into one and nothing can be lost or reordered.
final class Subscription: Sendable {
    /// Why the broadcaster ended a subscription.
    enum End: Sendable, Equatable {
        /// It fell further behind the head than the lag bound allows, or made no progress.
        case tooSlow
        /// The server is shutting down.
        case shutdown
        /// The connection finished for its own reasons (this releases anything still waiting).
        case closed
    }

    private struct State {
        var woken = false
        var waiter: CheckedContinuation<End?, Never>?
        var end: End?
        var endWaiters: [CheckedContinuation<End, Never>] = []
        /// Past the backfill: lag is measured from here on.
        var live = false
        var lastSent: Int64 = 0
        var lastProgress: ContinuousClock.Instant
    }

    let id: Int
    private let state: Mutex<State>

    init(id: Int) {
        self.id = id
        self.state = Mutex(State(lastProgress: .now))
    }

    /// New rows may be in the store.
    func wake() {
        let now = ContinuousClock.now
        let waiter = state.withLock { s -> CheckedContinuation<End?, Never>? in
            s.woken = true
            // A waiting subscriber was caught up until now: its stall clock starts here.
            if s.waiter != nil { s.lastProgress = now }
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// Returns when woken since the last call (at once if that already happened), or the reason
    /// to stop.
    func nextWakeUp() async -> End? {
        await withCheckedContinuation { continuation in
            let now = state.withLock { s -> End?? in
                if let end = s.end { return .some(end) }
                if s.woken {
                    s.woken = false
                    return .some(nil)
                }
                s.waiter = continuation
                return nil
            }
            if let now { continuation.resume(returning: now) }
        }
    }

    /// Stops the subscription; the first reason given wins.
    func end(_ reason: End) {
        let (waiter, endWaiters) = state.withLock {
            s -> (CheckedContinuation<End?, Never>?, [CheckedContinuation<End, Never>]) in
            guard s.end == nil else { return (nil, []) }
            s.end = reason
            defer {
                s.waiter = nil
                s.endWaiters = []
            }
            return (s.waiter, s.endWaiters)
        }
        waiter?.resume(returning: reason)
        for w in endWaiters { w.resume(returning: reason) }
    }

    var endReason: End? { state.withLock { $0.end } }

    /// Past its backfill: every label committed from now on reaches it.
    var isLive: Bool { state.withLock { $0.live } }

    /// Returns once the subscription is ended (so a connection blocked writing to a client that
    /// reads nothing can be interrupted).
    func ended() async -> End {
        await withCheckedContinuation { continuation in
            let end = state.withLock { s -> End? in
                if let end = s.end { return end }
                s.endWaiters.append(continuation)
                return nil
            }
            if let end { continuation.resume(returning: end) }
        }
    }

    /// Records the position reached (after a frame is written, or at the start).
    func sent(upTo seq: Int64) {
        let now = ContinuousClock.now
        state.withLock {
            $0.lastSent = seq
            $0.lastProgress = now
        }
    }

    /// The backfill is done: from now on the subscriber is held to the lag bound.
    func goLive() {
        state.withLock { $0.live = true }
    }

    /// Whether the subscriber must be dropped: live and more than `maxLag` seqs behind `head`, or
    /// behind and without progress for `stallTimeout` (a client that stopped reading during its
    /// backfill, which no lag bound would catch because the backfill is meant to be behind).
    func isTooSlow(head: Int64, maxLag: Int64, stallTimeout: Duration, now: ContinuousClock.Instant) -> Bool {
        state.withLock { s in
            guard s.end == nil, s.lastSent < head else { return false }
            if s.live && head - s.lastSent > maxLag { return true }
            return now - s.lastProgress > stallTimeout
        }
    }
}
