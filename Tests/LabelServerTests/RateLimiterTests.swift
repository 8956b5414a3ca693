import Synchronization
import Testing

@testable import LabelServer

/// The createReport limits as pure values: windows, resets, refusals that do not count, the key
/// cap, and the addresses keys are made of.
@Suite struct RateLimiterTests {
    @Test func aKeyGetsItsLimitPerWindowAndTheResetIsItsWindowsEnd() {
        var limiter = RateLimiter(policy: .init(limit: 3, windowSeconds: 60))
        let start: Int64 = 1_700_000_000_000
        let first = limiter.hit("a", nowMillis: start)
        #expect(first == .init(allowed: true, policy: limiter.policy, remaining: 2, resetsAtMillis: start + 60_000))
        #expect(limiter.hit("a", nowMillis: start + 10).remaining == 1)
        #expect(limiter.hit("a", nowMillis: start + 20).remaining == 0)
        let refused = limiter.hit("a", nowMillis: start + 30)
        #expect(!refused.allowed && refused.remaining == 0 && refused.resetsAtMillis == start + 60_000)
        // Another key has its own budget.
        #expect(limiter.hit("b", nowMillis: start + 40).allowed)
        // Refusals do not count: the window ends when it started plus its length.
        for i in 0..<100 { #expect(!limiter.hit("a", nowMillis: start + 100 + Int64(i)).allowed) }
        #expect(!limiter.hit("a", nowMillis: start + 59_999).allowed)
        let next = limiter.hit("a", nowMillis: start + 60_000)
        #expect(next.allowed && next.remaining == 2 && next.resetsAtMillis == start + 120_000)
        #expect(limiter.policy.header == "3;w=60")
    }

    @Test func zeroIsNoLimit() {
        var limiter = RateLimiter(policy: .init(limit: 0, windowSeconds: 60))
        for i in 0..<10_000 { #expect(limiter.hit("a", nowMillis: Int64(i)).allowed) }
        #expect(limiter.trackedKeys == 0)
    }

    @Test func fullOfRunningWindowsANewKeyWaitsButEndedOnesMakeRoom() {
        var limiter = RateLimiter(policy: .init(limit: 5, windowSeconds: 60), maximumKeys: 3)
        for key in ["a", "b", "c"] { #expect(limiter.hit(key, nowMillis: 1_000).allowed) }
        // Forgetting a running window would hand its key a fresh budget: the new key waits.
        let refused = limiter.hit("d", nowMillis: 2_000)
        #expect(!refused.allowed && refused.resetsAtMillis == 61_000)
        #expect(limiter.hit("e", nowMillis: 60_999).resetsAtMillis == 61_000)
        // Known keys keep counting.
        #expect(limiter.hit("a", nowMillis: 2_000).remaining == 3)
        // Once the windows ended there is room again.
        #expect(limiter.hit("d", nowMillis: 61_000).allowed)
        #expect(limiter.trackedKeys == 1)
    }

    @Test func anAddressFloodDoesNotUseUpEverybodysBudget() throws {
        let now = Mutex<Int64>(1_700_000_000_000)
        let limits = ReportLimits(
            .init(perReporterPerDay: 2, perIPPerMinute: 3, perMinute: 5), clock: { now.withLock { $0 } })
        for _ in 0..<3 { #expect(limits.admitRequest(from: "10.0.0.1") == nil) }
        for _ in 0..<50 {
            let refusal = limits.admitRequest(from: "10.0.0.1")
            #expect(refusal?.limited == "requests per minute from one address")
        }
        // Two left of everybody's five.
        #expect(limits.admitRequest(from: "10.0.0.2") == nil)
        #expect(limits.admitRequest(from: "10.0.0.3") == nil)
        #expect(limits.admitRequest(from: "10.0.0.4")?.limited == "reports per minute to this labeler")
        // A day per reporter.
        #expect(limits.admitReport(by: "did:plc:a") == nil)
        #expect(limits.admitReport(by: "did:plc:a") == nil)
        let third = try #require(limits.admitReport(by: "did:plc:a"))
        #expect(third.decision.resetsAtMillis == 1_700_000_000_000 + 86_400_000)
        #expect(limits.admitReport(by: "did:plc:b") == nil)
        #expect(limits.refusals == ["per_ip_per_minute": 50, "per_minute": 1, "per_reporter_per_day": 1])
        now.withLock { $0 += 86_400_000 }
        #expect(limits.admitReport(by: "did:plc:a") == nil)
        #expect(limits.admitRequest(from: "10.0.0.1") == nil)
    }

    @Test func theRefusalCarriesTheHeadersThePDSSends() {
        let refusal = ReportLimits.Refusal(
            decision: .init(
                allowed: false, policy: .init(limit: 50, windowSeconds: 86_400), remaining: 0,
                resetsAtMillis: 1_700_000_100_500),
            limited: "reports per day from one account", key: "per_reporter_per_day")
        let limits = ReportLimits(clock: { 1_700_000_000_000 })
        let error = limits.error(for: refusal)
        #expect(error.status == .tooManyRequests && error.error == "RateLimitExceeded")
        #expect(error.message.contains("at most 50 reports per day from one account"))
        #expect(error.headers[.init("ratelimit-limit")!] == "50")
        #expect(error.headers[.init("ratelimit-remaining")!] == "0")
        #expect(error.headers[.init("ratelimit-reset")!] == "1700000101")
        #expect(error.headers[.init("ratelimit-policy")!] == "50;w=86400")
        #expect(error.headers[.retryAfter] == "101")
    }

    @Test func behindTheLocalProxyTheClientIsTheAddressItAppended() {
        #expect(ClientAddress.key(peer: "203.0.113.9", forwardedFor: "1.2.3.4") == "203.0.113.9")
        #expect(ClientAddress.key(peer: "127.0.0.1", forwardedFor: "6.6.6.6, 198.51.100.7") == "198.51.100.7")
        #expect(ClientAddress.key(peer: "::1", forwardedFor: "2001:db8::1") == "2001:db8::1")
        #expect(ClientAddress.key(peer: "127.0.0.1", forwardedFor: nil) == "127.0.0.1")
        #expect(ClientAddress.key(peer: "127.0.0.1", forwardedFor: " , ") == "127.0.0.1")
        #expect(ClientAddress.key(peer: nil, forwardedFor: "1.2.3.4") == "unknown")
    }
}
