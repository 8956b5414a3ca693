/// How a started event ended, as the state machine counts it.
public enum EventOutcome: Sendable, Hashable {
    /// The handler returned.
    case succeeded
    /// The handler threw; the event counts as finished.
    case failed
    /// The handler ran past the timeout and was cancelled; the event counts as finished.
    case timedOut
    /// The event was cancelled by a shutdown deadline (or a cancelled `run()`). It does not
    /// count as finished, so the low-water mark stays below it and it is redone after a restart.
    case abandoned
}
