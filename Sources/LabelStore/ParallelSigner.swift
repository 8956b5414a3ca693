import ATProto
import Dispatch
import Synchronization

/// Signs a batch of labels on every core while the caller consumes them in order, so the
/// database work of writing label `i` overlaps with signing the labels after it. Signing is the
/// most expensive part of writing a label (an ECDSA signature costs tens of microseconds), and
/// the database thread would otherwise wait for the whole batch before writing the first row.
///
/// Background workers and the consumer claim labels in order from a shared counter; the consumer
/// signs too whenever the label it needs next is not ready, so nothing stalls when the machine
/// has one core.
final class ParallelSigner: Sendable {
    private let labels: [Label]
    private let sign: @Sendable (Label) throws -> Label
    private struct State {
        var nextToClaim = 0
        var results: [Result<Label, any Error>?]
    }
    private let state: Mutex<State>
    /// Signalled after each signature, for a consumer waiting on a label another thread signs.
    private let progress = DispatchSemaphore(value: 0)
    private let workers: Int

    init(_ labels: [Label], sign: @escaping @Sendable (Label) throws -> Label) {
        self.labels = labels
        self.sign = sign
        state = Mutex(State(results: Array(repeating: nil, count: labels.count)))
        // Background workers: the other cores (the consumer is one signer itself).
        workers = labels.count < 2 ? 0 : min(labels.count - 1, max(1, System.activeProcessorCount - 1))
        for _ in 0..<workers {
            DispatchQueue.global(qos: .userInitiated).async { [self] in
                while signNext() {}
            }
        }
    }

    /// Claims the next unsigned label and signs it; false when none is left.
    private func signNext() -> Bool {
        let index = state.withLock { s -> Int? in
            guard s.nextToClaim < labels.count else { return nil }
            defer { s.nextToClaim += 1 }
            return s.nextToClaim
        }
        guard let index else { return false }
        let result = Result { try sign(labels[index]) }
        state.withLock { $0.results[index] = result }
        progress.signal()
        return true
    }

    /// Label `index`, signed; signs others meanwhile rather than wait idle. Call in order.
    func signed(_ index: Int) throws -> Label {
        while true {
            if let result = state.withLock({ $0.results[index] }) { return try result.get() }
            if !signNext() { progress.wait() }
        }
    }
}

enum System {
    /// Cores available to this process.
    static let activeProcessorCount: Int = {
        #if canImport(Glibc)
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
        return 2
        #endif
    }()
}

#if canImport(Glibc)
import Glibc
#endif
