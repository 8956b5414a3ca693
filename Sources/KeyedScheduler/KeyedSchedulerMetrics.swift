/// A snapshot of a scheduler's counters, taken atomically.
///
/// `finished` counts every event that counts as done for the low-water mark: succeeded,
/// failed (threw) or timed out, so `failed` and `timedOut` are parts of it. Events cancelled by
/// a shutdown deadline are `abandoned`: not finished, to be redone after a restart.
public struct KeyedSchedulerMetrics: Sendable, Hashable {
    /// Events accepted so far.
    public var submitted = 0
    /// Events done, whatever their outcome (see above).
    public var finished = 0
    /// Events whose handler threw.
    public var failed = 0
    /// Events whose handler ran past the timeout and was cancelled.
    public var timedOut = 0
    /// Events cancelled by a shutdown deadline (or a cancelled `run()`), not counted finished.
    public var abandoned = 0
    /// Events started and not yet ended.
    public var inFlight = 0
    /// Accepted events waiting to start, all keys together.
    public var queueDepth = 0
    /// The longest backlog of waiting events that one key has now.
    public var largestKeyBacklog = 0
    /// Submitters suspended because a limit was reached (the producer is being held back).
    public var waitingSubmitters = 0

    /// All zero.
    public init() {}
}
