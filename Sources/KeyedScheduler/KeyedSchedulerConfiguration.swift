/// Limits and timeout of a ``KeyedScheduler`` (the limits also drive
/// ``KeyedSchedulerStateMachine``). Checked when a scheduler or state machine is made from it:
/// `concurrency` at least 1, limits not negative, `timeout` positive when given.
public struct KeyedSchedulerConfiguration: Sendable, Hashable {
    /// How many events run at once, each of a different key. 1 makes the scheduler sequential.
    public var concurrency: Int
    /// How many accepted events may wait to start, all keys together (running ones not
    /// included). When reached, `submit` suspends until one starts.
    public var queueLimit: Int
    /// How many accepted events one key may have waiting behind its running one. When reached,
    /// `submit` for any key suspends until that key's backlog shrinks: submissions are
    /// admitted strictly in arrival order, so a hot key holds back the producer (backpressure)
    /// rather than being overtaken.
    public var perKeyBacklogLimit: Int
    /// How long one handler may run before it is cancelled and its event counted as timed out;
    /// `nil` for no limit.
    public var timeout: Duration?

    /// Defaults: concurrency 8, a queue of 10,000, a backlog of 1,000 per key, 60 s per event.
    public init(
        concurrency: Int = 8,
        queueLimit: Int = 10_000,
        perKeyBacklogLimit: Int = 1_000,
        timeout: Duration? = .seconds(60)
    ) {
        self.concurrency = concurrency
        self.queueLimit = queueLimit
        self.perKeyBacklogLimit = perKeyBacklogLimit
        self.timeout = timeout
    }

    /// Stops the program on a configuration that cannot work.
    func check() {
        precondition(concurrency >= 1, "KeyedScheduler concurrency must be at least 1")
        precondition(queueLimit >= 0 && perKeyBacklogLimit >= 0, "KeyedScheduler limits must not be negative")
        precondition(timeout.map { $0 > .zero } ?? true, "KeyedScheduler timeout must be positive")
    }
}
