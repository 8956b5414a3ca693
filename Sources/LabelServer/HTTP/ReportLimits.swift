import ATProto
import Hummingbird
import Synchronization

/// The abuse limits of createReport: per client address per minute and for everybody per minute
/// (both counted before the token is checked, so a flood costs no DID resolution), and per
/// reporter per day (counted once the token names the reporter). The counts live in memory: a
/// restart starts them again.
public final class ReportLimits: Sendable {
    public struct Configuration: Sendable, Equatable {
        /// Reports one account may send in a day (`reports.per_reporter_per_day`); 0: no limit.
        public var perReporterPerDay: Int
        /// Requests one address may send in a minute (`reports.per_ip_per_minute`); 0: no limit.
        /// Reports come through the reporters' PDSes, so one address carries every report of a
        /// PDS's users: this stops a flood of bogus tokens, not a busy PDS.
        public var perIPPerMinute: Int
        /// Requests everybody together may send in a minute (`reports.per_minute`); 0: no limit.
        public var perMinute: Int

        public init(perReporterPerDay: Int = 50, perIPPerMinute: Int = 300, perMinute: Int = 1_000) {
            self.perReporterPerDay = perReporterPerDay
            self.perIPPerMinute = perIPPerMinute
            self.perMinute = perMinute
        }
    }

    /// Unix milliseconds now.
    public typealias Clock = @Sendable () -> Int64

    /// The wall clock, in Unix milliseconds (`ratelimit-reset` is a wall-clock time).
    public static let systemClock: Clock = { Datetime.currentUnixMicros() / 1000 }

    public let configuration: Configuration
    private let clock: Clock
    private let limiters: Mutex<(address: RateLimiter, everyone: RateLimiter, reporter: RateLimiter)>
    /// Requests refused, by the configuration key of the limit that refused them (for `/metrics`).
    private let refused = Mutex<[String: Int]>([:])

    public init(_ configuration: Configuration = .init(), clock: @escaping Clock = ReportLimits.systemClock) {
        self.configuration = configuration
        self.clock = clock
        limiters = Mutex(
            (
                RateLimiter(policy: .init(limit: configuration.perIPPerMinute, windowSeconds: 60)),
                RateLimiter(policy: .init(limit: configuration.perMinute, windowSeconds: 60)),
                RateLimiter(policy: .init(limit: configuration.perReporterPerDay, windowSeconds: 86_400))
            ))
    }

    /// A request refused by a limit: the limit's answer, and what it limits, in words.
    public struct Refusal: Sendable, Equatable {
        public var decision: RateLimiter.Decision
        /// "requests per minute from one address", …
        public var limited: String
        /// The limit's configuration key without `reports.`: `per_ip_per_minute`, …
        public var key: String
    }

    /// The configuration keys of the limits (without `reports.`), in the order they are checked.
    public static let keys = ["per_ip_per_minute", "per_minute", "per_reporter_per_day"]

    /// Requests each limit refused since the start, by key.
    public var refusals: [String: Int] { refused.withLock { $0 } }

    /// Counts a request from `address` against its own limit and then everybody's; returns the
    /// refusal, or nil when it may go on. A request refused for its address does not use up
    /// everybody's budget, so one flooding address does not lock out the others.
    public func admitRequest(from address: String) -> Refusal? {
        let now = clock()
        let refusal = limiters.withLock { limiters -> Refusal? in
            let byAddress = limiters.address.hit(address, nowMillis: now)
            guard byAddress.allowed else {
                return Refusal(
                    decision: byAddress, limited: "requests per minute from one address", key: "per_ip_per_minute")
            }
            let overall = limiters.everyone.hit("", nowMillis: now)
            return overall.allowed
                ? nil : Refusal(decision: overall, limited: "reports per minute to this labeler", key: "per_minute")
        }
        return counted(refusal)
    }

    /// Counts a report of `reporter` (a DID whose token verified); returns the refusal, or nil.
    public func admitReport(by reporter: String) -> Refusal? {
        let now = clock()
        let decision = limiters.withLock { $0.reporter.hit(reporter, nowMillis: now) }
        return counted(
            decision.allowed
                ? nil
                : Refusal(decision: decision, limited: "reports per day from one account", key: "per_reporter_per_day"))
    }

    private func counted(_ refusal: Refusal?) -> Refusal? {
        if let refusal { refused.withLock { $0[refusal.key, default: 0] += 1 } }
        return refusal
    }

    /// The 429 answer to `refusal`, its `retry-after` counted from now.
    func error(for refusal: Refusal) -> XRPCError {
        .rateLimitExceeded(refusal.decision, nowMillis: clock(), what: refusal.limited)
    }
}

extension XRPCError {
    /// 429 `RateLimitExceeded` with the `ratelimit-*` headers the PDS sends (`ratelimit-reset` in
    /// Unix seconds) and `retry-after` in seconds.
    static func rateLimitExceeded(_ decision: RateLimiter.Decision, nowMillis: Int64, what: String) -> XRPCError {
        let resetSeconds = (decision.resetsAtMillis + 999) / 1000
        let retryAfter = max(1, (decision.resetsAtMillis - nowMillis + 999) / 1000)
        var error = XRPCError(
            status: .tooManyRequests, error: "RateLimitExceeded",
            message: "Rate limit exceeded: at most \(decision.policy.limit) \(what); try again in \(retryAfter) s")
        error.headers[.init("ratelimit-limit")!] = String(decision.policy.limit)
        error.headers[.init("ratelimit-remaining")!] = String(decision.remaining)
        error.headers[.init("ratelimit-reset")!] = String(resetSeconds)
        error.headers[.init("ratelimit-policy")!] = decision.policy.header
        error.headers[.retryAfter] = String(retryAfter)
        return error
    }
}

/// The address a request comes from, as the key of its per-address limit. The labeler runs behind
/// a reverse proxy on the same machine (docs/operations.md), so a connection from a loopback
/// address is the proxy's: the client is the last address of `X-Forwarded-For`, the one the proxy
/// itself appended. From any other peer the header is the client's own say and is not believed.
enum ClientAddress {
    static func key(peer: String?, forwardedFor: String?) -> String {
        guard let peer else { return "unknown" }
        guard isLoopback(peer), let forwardedFor,
            let last = forwardedFor.split(separator: ",").last.map({ $0.filter { $0 != " " && $0 != "\t" } }),
            !last.isEmpty
        else { return peer }
        return String(last)
    }

    static func isLoopback(_ address: String) -> Bool {
        address.hasPrefix("127.") || address == "::1" || address.hasPrefix("::ffff:127.")
    }
}
