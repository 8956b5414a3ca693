import Synchronization

/// Login attempts per client address: a few a minute, enough for a person who mistypes, far too
/// few to guess a token. The right token is refused too while an address is over its limit, so
/// a guesser learns nothing from the answer.
final class LoginThrottle: Sendable {
    static let policy = RateLimiter.Policy(limit: 10, windowSeconds: 60)
    private let limiter: Mutex<RateLimiter>

    init(policy: RateLimiter.Policy = LoginThrottle.policy) {
        limiter = Mutex(RateLimiter(policy: policy, maximumKeys: 10_000))
    }

    /// Counts an attempt from `address`; nil when it may go ahead, else the seconds until it may.
    func attempt(from address: String, nowMillis: Int64) -> Int64? {
        let decision = limiter.withLock { $0.hit(address, nowMillis: nowMillis) }
        guard !decision.allowed else { return nil }
        return max(1, (decision.resetsAtMillis - nowMillis + 999) / 1000)
    }
}
