/// Jittered exponential backoff: attempt n waits a random time between half and all of
/// `min(maximum, initial · 2ⁿ)`, so many clients cut off at once do not reconnect in lockstep.
public struct Backoff: Sendable, Equatable {
    public var initial: Duration
    public var maximum: Duration
    /// A connection that stayed open this long counts as one that worked, even if it delivered
    /// nothing (a quiet stream): the next wait starts over at `initial`.
    public var resetAfter: Duration

    public init(initial: Duration = .seconds(1), maximum: Duration = .seconds(60), resetAfter: Duration = .seconds(30))
    {
        self.initial = initial
        self.maximum = maximum
        self.resetAfter = resetAfter
    }

    /// The ceiling for attempt `attempt` (0-based), before jitter.
    public func ceiling(attempt: Int) -> Duration {
        var delay = initial
        for _ in 0..<min(attempt, 40) {
            delay = delay * 2
            if delay >= maximum { return maximum }
        }
        return min(delay, maximum)
    }

    /// The delay to wait before attempt `attempt`.
    public func delay(attempt: Int, using rng: inout some RandomNumberGenerator) -> Duration {
        ceiling(attempt: attempt) * Double.random(in: 0.5...1.0, using: &rng)
    }
}

/// The waits of one reconnecting client: each connection that fails raises the next wait, and a
/// connection that worked starts it over.
///
/// "Worked" means it delivered events or stayed open for ``Backoff/resetAfter``. Counting only
/// failures in a row matters for a stream with a rare bad frame: each connection then ends in an
/// error after thousands of good events, and a count that never went down would soon wait the
/// maximum between every few thousand events.
public struct ReconnectBackoff: Sendable {
    public let backoff: Backoff
    /// Reconnections since the last connection that worked.
    public private(set) var failures = 0

    public init(_ backoff: Backoff) { self.backoff = backoff }

    /// Notes the end of a connection: whether it delivered anything, and how long it was open
    /// (nil when it never opened).
    public mutating func connectionEnded(delivered: Bool, openFor: Duration?) {
        if delivered || (openFor.map { $0 >= backoff.resetAfter } ?? false) { failures = 0 }
    }

    /// Starts over without a connection (the server told us to reconnect at once).
    public mutating func reset() { failures = 0 }

    /// The wait before the next connection, which it counts.
    public mutating func nextDelay(using rng: inout some RandomNumberGenerator) -> Duration {
        defer { failures += 1 }
        return backoff.delay(attempt: failures, using: &rng)
    }
}
