/// Why a handler's event did not succeed; given to the scheduler's `onFailure` hook (for the
/// caller to log) once the handler has returned. The event still counts as finished.
public enum SchedulerFailure: Error, Sendable {
    /// The handler threw.
    case threw(any Error)
    /// The handler ran past the configured timeout and was cancelled; `error` is what it threw
    /// on its way out, if anything.
    case timedOut(after: Duration, error: (any Error)?)
}
