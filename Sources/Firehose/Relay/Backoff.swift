/// Jittered exponential backoff: attempt n waits a random time between half and all of
/// `min(maximum, initial · 2ⁿ)`, so many clients cut off at once do not reconnect in lockstep.
public struct Backoff: Sendable, Equatable {
    public var initial: Duration
    public var maximum: Duration

    public init(initial: Duration = .seconds(1), maximum: Duration = .seconds(60)) {
        self.initial = initial
        self.maximum = maximum
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
