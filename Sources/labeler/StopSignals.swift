import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM and SIGINT as a request to stop gracefully, caught from the first instant of the
/// process.
///
/// `labeler run` takes seconds to open its database and compile large rule sets; a stop asked
/// for in that time must not kill it with the signal's default action (status 143). The handling
/// is installed first thing in `main`, before the command line is parsed: from then on a signal
/// only records the request, and whoever registers with ``onStop(_:)`` (the service group, once
/// it exists) is told at once or as soon as it registers.
final class StopSignals: Sendable {
    /// The process's one instance, installed by ``install()``.
    static let shared = StopSignals()

    private struct State {
        var requested: String?
        var handlers: [@Sendable (String) -> Void] = []
        var sources: [SignalSourceBox] = []
    }

    private let state = Mutex(State())

    private init() {}

    /// Catches SIGTERM and SIGINT from now on (idempotent).
    @discardableResult
    static func install() -> StopSignals {
        shared.installOnce()
        return shared
    }

    private func installOnce() {
        state.withLock { s in
            guard s.sources.isEmpty else { return }
            // Blocked in this thread (and so in every thread started from now on) first: a
            // signal arriving before dispatch has its signalfd stays pending instead of being
            // dropped, and dispatch reads it from there.
            var blocked = sigset_t()
            sigemptyset(&blocked)
            sigaddset(&blocked, SIGTERM)
            sigaddset(&blocked, SIGINT)
            pthread_sigmask(SIG_BLOCK, &blocked, nil)
            for (number, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")] {
                // Ignored too, so that no thread that has not blocked it takes the default action
                // while the source is being set up; the dispatch source still sees it.
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler { [weak self] in self?.received(name) }
                source.resume()
                s.sources.append(SignalSourceBox(source: source))
            }
        }
    }

    /// The signal that asked to stop, if one did.
    var requested: String? { state.withLock { $0.requested } }

    /// Calls `handler` with the signal's name when a stop is requested, at once if one was
    /// already. Each handler is called once.
    func onStop(_ handler: @escaping @Sendable (String) -> Void) {
        let already = state.withLock { s -> String? in
            if let requested = s.requested { return requested }
            s.handlers.append(handler)
            return nil
        }
        if let already { handler(already) }
    }

    private func received(_ name: String) {
        let handlers = state.withLock { s -> [@Sendable (String) -> Void] in
            guard s.requested == nil else { return [] }
            s.requested = name
            defer { s.handlers = [] }
            return s.handlers
        }
        for handler in handlers { handler(name) }
    }
}

/// A dispatch signal source (thread-safe, but not marked Sendable by Dispatch).
private struct SignalSourceBox: @unchecked Sendable {
    let source: any DispatchSourceSignal
}
