/// At most `limit` hits per key within a window of time that starts at the key's first hit and
/// resets `window` later (the way the PDS counts its own limits), so that the reset time a caller
/// is told is exact. A pure value: the time is passed in, so tests need no clock.
///
/// A refused hit does not count: a client that keeps trying while refused gets through again as
/// soon as its window resets.
public struct RateLimiter: Sendable {
    /// What the limit is, as `ratelimit-policy` names it.
    public struct Policy: Sendable, Equatable {
        /// Hits allowed per window; 0 means no limit.
        public var limit: Int
        public var windowSeconds: Int64

        public init(limit: Int, windowSeconds: Int64) {
            self.limit = limit
            self.windowSeconds = windowSeconds
        }

        /// `limit;w=seconds`, the `ratelimit-policy` header's form.
        public var header: String { "\(limit);w=\(windowSeconds)" }
    }

    /// The answer to one hit.
    public struct Decision: Sendable, Equatable {
        public var allowed: Bool
        public var policy: Policy
        /// Hits still allowed in the window after this one.
        public var remaining: Int
        /// When the window resets, in Unix milliseconds.
        public var resetsAtMillis: Int64
    }

    public let policy: Policy
    /// Most keys tracked at once. When every tracked window is still running, a new key is
    /// refused until one ends: forgetting a running window would hand its key a fresh budget, which
    /// is what a flood from many keys would aim for.
    public let maximumKeys: Int
    private var windows: [String: (startMillis: Int64, count: Int)] = [:]
    /// With every window running, the earliest end among them: no window can be dropped before.
    private var fullUntilMillis: Int64 = .min

    public init(policy: Policy, maximumKeys: Int = 200_000) {
        self.policy = policy
        self.maximumKeys = max(1, maximumKeys)
    }

    /// Keys with a window tracked now (expired ones are dropped only when room is needed).
    public var trackedKeys: Int { windows.count }

    /// Counts a hit of `key` at `nowMillis` (Unix milliseconds) if the limit allows it.
    public mutating func hit(_ key: String, nowMillis: Int64) -> Decision {
        let windowMillis = policy.windowSeconds * 1000
        guard policy.limit > 0 else {
            return Decision(allowed: true, policy: policy, remaining: Int.max, resetsAtMillis: nowMillis)
        }
        if let window = windows[key], nowMillis < window.startMillis + windowMillis {
            let resets = window.startMillis + windowMillis
            guard window.count < policy.limit else {
                return Decision(allowed: false, policy: policy, remaining: 0, resetsAtMillis: resets)
            }
            windows[key] = (window.startMillis, window.count + 1)
            return Decision(
                allowed: true, policy: policy, remaining: policy.limit - window.count - 1, resetsAtMillis: resets)
        }
        if windows[key] == nil && windows.count >= maximumKeys {
            // Scanning every window for ended ones is paid once per ending, not once per request
            // of a flood that keeps the table full.
            guard nowMillis >= fullUntilMillis else {
                return Decision(allowed: false, policy: policy, remaining: 0, resetsAtMillis: fullUntilMillis)
            }
            windows = windows.filter { nowMillis < $0.value.startMillis + windowMillis }
            if windows.count >= maximumKeys {
                fullUntilMillis = windows.values.map(\.startMillis).min().map { $0 + windowMillis } ?? nowMillis
                return Decision(allowed: false, policy: policy, remaining: 0, resetsAtMillis: fullUntilMillis)
            }
        }
        windows[key] = (nowMillis, 1)
        return Decision(
            allowed: true, policy: policy, remaining: policy.limit - 1, resetsAtMillis: nowMillis + windowMillis)
    }
}
