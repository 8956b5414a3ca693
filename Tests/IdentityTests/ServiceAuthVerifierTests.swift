import ATProto
import Foundation
import Synchronization
import TestNetwork
import Testing

@testable import ATCrypto
@testable import Identity

/// A clock the tests move by hand.
final class ManualClock: Sendable {
    private let seconds: Mutex<Int64>
    init(_ start: Int64) { seconds = Mutex(start) }
    var now: Int64 { seconds.withLock { $0 } }
    func advance(_ by: Int64) { seconds.withLock { $0 += by } }
    var reader: @Sendable () -> Int64 { { self.now } }
}

/// Service-auth tokens made here with ATCrypto, their issuers' DID documents served by the
/// in-process PLC directory: every rule is tried both ways, on both curves.
@Suite struct ServiceAuthVerifierTests {
    static let start: Int64 = 1_800_000_000
    let issuer = try! DID("did:plc:reporteraaaaaaaaaaaaaaaa")
    let labeler = try! DID("did:plc:labeleraaaaaaaaaaaaaaaaa")
    static let method = "com.atproto.moderation.createReport"

    struct Setup {
        let network: TestNetwork
        let resolver: IdentityResolver
        let verifier: ServiceAuthVerifier
        let clock: ManualClock
        let key: SigningKey
    }

    func withIssuer(
        _ curve: KeyType, replayCapacity: Int = 1000, _ body: (Setup) async throws -> Void
    ) async throws {
        let network = try TestNetwork()
        let base = try await network.start()
        var configuration = IdentityResolver.Configuration()
        configuration.plcURL = base + "/plc"
        configuration.origin = { host in base + "/web/" + host }
        let key = SigningKey.generate(curve)
        network.withState {
            $0.plc[issuer.rawValue] = .init(
                verificationMethods: ["atproto": key.publicKey.didKey], alsoKnownAs: ["at://reporter.test"],
                services: [:])
        }
        let resolver = IdentityResolver(configuration: configuration)
        let clock = ManualClock(Self.start)
        let verifier = ServiceAuthVerifier(resolver: resolver, replayCapacity: replayCapacity, now: clock.reader)
        do {
            try await body(
                Setup(network: network, resolver: resolver, verifier: verifier, clock: clock, key: key))
        } catch {
            await network.stop()
            throw error
        }
        await network.stop()
    }

    // MARK: Making tokens

    static func encodeJSON(_ object: [String: Any]) -> [UInt8] {
        Array(try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }

    static func algorithm(_ curve: KeyType) -> String { curve == .secp256k1 ? "ES256K" : "ES256" }

    /// A token signed by `key`; `claims` and `header` override the defaults (nil removes one), and
    /// `signature` may rewrite the signature bytes.
    func token(
        _ key: SigningKey, header: [String: Any?] = [:], claims: [String: Any?] = [:], jti: String = UUID().uuidString,
        signature rewrite: ([UInt8]) -> [UInt8] = { $0 }
    ) -> String {
        var headerObject: [String: Any] = ["alg": Self.algorithm(key.type), "typ": "JWT"]
        for (name, value) in header { headerObject[name] = value }
        var payload: [String: Any] = [
            "iss": issuer.rawValue, "aud": labeler.rawValue, "lxm": Self.method, "iat": Self.start,
            "exp": Self.start + 60, "jti": jti,
        ]
        for (name, value) in claims { payload[name] = value }
        let input =
            Base64.encode(Self.encodeJSON(headerObject), alphabet: .url) + "."
            + Base64.encode(Self.encodeJSON(payload), alphabet: .url)
        let signature = rewrite(try! key.sign(Array(input.utf8)))
        return input + "." + Base64.encode(signature, alphabet: .url)
    }

    /// The same signature with `s` replaced by `n − s`: valid ECDSA, but high-S.
    static func highS(_ signature: [UInt8], _ curve: KeyType) -> [UInt8] {
        Array(signature[0..<32]) + BigEndian256.subtract(curve.order, signature[32..<64])
    }

    /// The same signature as ASN.1 DER (`SEQUENCE { INTEGER r, INTEGER s }`).
    static func der(_ signature: [UInt8]) -> [UInt8] {
        func integer(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
            var value = Array(bytes.drop { $0 == 0 })
            if value.isEmpty || value[0] & 0x80 != 0 { value.insert(0, at: 0) }
            return [0x02, UInt8(value.count)] + value
        }
        let body = integer(signature[0..<32]) + integer(signature[32..<64])
        return [0x30, UInt8(body.count)] + body
    }

    func verify(_ setup: Setup, _ token: String) async throws(ServiceAuthError) -> ServiceAuthClaims {
        try await setup.verifier.verify(token, audience: labeler, method: Self.method)
    }

    func expectRefused(
        _ setup: Setup, _ token: String, _ matches: (ServiceAuthError) -> Bool,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        do {
            let claims = try await verify(setup, token)
            Issue.record("accepted a token that must be refused: \(claims)", sourceLocation: sourceLocation)
        } catch {
            let expected = matches(error)
            #expect(expected, "refused for the wrong reason: \(error)", sourceLocation: sourceLocation)
            #expect(!error.description.contains("\n"), sourceLocation: sourceLocation)
        }
    }

    // MARK: Tests

    @Test(arguments: KeyType.allCases) func aGoodTokenIsAccepted(curve: KeyType) async throws {
        try await withIssuer(curve) { setup in
            let claims = try await verify(setup, token(setup.key, jti: "one"))
            #expect(claims.issuer == issuer)
            #expect(claims.method == Self.method)
            #expect(claims.nonce == "one")
            // iss with a fragment, aud naming our labeler service.
            let fragment = token(
                setup.key, claims: ["iss": issuer.rawValue + "#atproto", "aud": labeler.rawValue + "#atproto_labeler"])
            #expect(try await verify(setup, fragment).issuer == issuer)
        }
    }

    @Test(arguments: KeyType.allCases) func onlyES256KAndES256AreAccepted(curve: KeyType) async throws {
        try await withIssuer(curve) { setup in
            for alg in ["HS256", "none", "RS256", "ES384"] {
                await expectRefused(setup, token(setup.key, header: ["alg": alg])) {
                    $0 == .unsupportedAlgorithm(alg)
                }
            }
            await expectRefused(setup, token(setup.key, header: ["alg": nil])) {
                if case .malformed = $0 { true } else { false }
            }
            await expectRefused(setup, token(setup.key, header: ["typ": "at+jwt"])) {
                if case .unsupportedAlgorithm = $0 { true } else { false }
            }
            // The key's curve must be the one alg names.
            let other = curve == .secp256k1 ? "ES256" : "ES256K"
            await expectRefused(setup, token(setup.key, header: ["alg": other])) {
                $0 == .keyMismatch(alg: other, key: curve)
            }
        }
    }

    @Test(arguments: KeyType.allCases) func highSAndDERSignaturesAreRefused(curve: KeyType) async throws {
        try await withIssuer(curve) { setup in
            await expectRefused(setup, token(setup.key) { Self.highS($0, curve) }) { $0 == .highS }
            await expectRefused(setup, token(setup.key) { Self.der($0) }) {
                if case .signatureEncoding(let count) = $0 { count > 64 } else { false }
            }
            // Refused before any lookup: junk costs the directory nothing.
            #expect(await setup.resolver.fetches == 0)
            _ = try await verify(setup, token(setup.key))
        }
    }

    @Test(arguments: KeyType.allCases) func aSignatureByAnotherKeyIsRefusedAfterOneFreshLookup(
        curve: KeyType
    ) async throws {
        try await withIssuer(curve) { setup in
            let stranger = SigningKey.generate(curve)
            await expectRefused(setup, token(stranger)) { $0 == .badSignature(issuer: issuer) }
            #expect(await setup.resolver.fetches == 2)
            let tampered = token(setup.key, claims: ["lxm": Self.method]).dropLast(4) + "AAAA"
            await expectRefused(setup, String(tampered)) { $0 == .badSignature(issuer: issuer) || $0 == .highS }
        }
    }

    @Test(arguments: KeyType.allCases) func aRotatedKeyIsAcceptedAfterResolvingAgain(curve: KeyType) async throws {
        try await withIssuer(curve) { setup in
            _ = try await verify(setup, token(setup.key))
            #expect(await setup.resolver.fetches == 1)
            // The account rotates to a key on the other curve; the cached document still has the old one.
            let rotated = SigningKey.generate(curve == .secp256k1 ? .p256 : .secp256k1)
            setup.network.withState {
                $0.plc[issuer.rawValue]?.verificationMethods["atproto"] = rotated.publicKey.didKey
            }
            #expect(try await verify(setup, token(rotated)).issuer == issuer)
            #expect(await setup.resolver.fetches == 2)
            let sameCurve = SigningKey.generate(rotated.type)
            setup.network.withState {
                $0.plc[issuer.rawValue]?.verificationMethods["atproto"] = sameCurve.publicKey.didKey
            }
            #expect(try await verify(setup, token(sameCurve)).issuer == issuer)
            // The old key no longer passes.
            await expectRefused(setup, token(setup.key)) {
                if case .keyMismatch = $0 { true } else { $0 == .badSignature(issuer: issuer) }
            }
        }
    }

    @Test(arguments: KeyType.allCases) func audienceAndMethodMustBeOurs(curve: KeyType) async throws {
        try await withIssuer(curve) { setup in
            for aud in ["did:plc:someoneelseaaaaaaaaaaaaa", labeler.rawValue + "#atproto_pds", "did:web:labeler.test"] {
                await expectRefused(setup, token(setup.key, claims: ["aud": aud])) { $0 == .wrongAudience(aud) }
            }
            await expectRefused(setup, token(setup.key, claims: ["lxm": "tools.ozone.moderation.emitEvent"])) {
                $0 == .wrongMethod("tools.ozone.moderation.emitEvent", expected: Self.method)
            }
            await expectRefused(setup, token(setup.key, claims: ["lxm": nil])) {
                if case .malformed = $0 { true } else { false }
            }
        }
    }

    /// A method kept for some accounts (the admin endpoint's moderators) refuses everyone else
    /// before resolving anything, and still checks the listed ones fully.
    @Test(arguments: KeyType.allCases) func onlyTheListedIssuersMaySign(curve: KeyType) async throws {
        try await withIssuer(curve) { setup in
            let moderator = try DID("did:plc:moderatoraaaaaaaaaaaaaaa")
            do {
                let claims = try await setup.verifier.verify(
                    token(setup.key), audience: labeler, method: Self.method, issuers: [moderator])
                Issue.record("accepted an issuer that is not listed: \(claims)")
            } catch {
                #expect(
                    error as? ServiceAuthError == .issuerNotAllowed(issuer: issuer.rawValue, method: Self.method))
                #expect("\(error)" == "\(issuer) may not call \(Self.method) on this labeler")
            }
            #expect(await setup.resolver.fetches == 0)
            let claims = try await setup.verifier.verify(
                token(setup.key), audience: labeler, method: Self.method, issuers: [moderator, issuer])
            #expect(claims.issuer == issuer)
            do {
                _ = try await setup.verifier.verify(
                    token(SigningKey.generate(curve)), audience: labeler, method: Self.method, issuers: [issuer])
                Issue.record("a listed issuer's token must still be signed by its key")
            } catch {
                #expect(error as? ServiceAuthError == .badSignature(issuer: issuer))
            }
        }
    }

    @Test(arguments: KeyType.allCases) func expiryAllowsThirtySecondsOfSkew(curve: KeyType) async throws {
        try await withIssuer(curve) { setup in
            let start = Self.start
            _ = try await verify(setup, token(setup.key, claims: ["iat": start - 100, "exp": start - 29]))
            await expectRefused(setup, token(setup.key, claims: ["iat": start - 100, "exp": start - 30])) {
                $0 == .expired(exp: start - 30, now: start)
            }
            _ = try await verify(setup, token(setup.key, claims: ["iat": start + 30, "exp": start + 90]))
            await expectRefused(setup, token(setup.key, claims: ["iat": start + 31, "exp": start + 90])) {
                $0 == .issuedInTheFuture(iat: start + 31, now: start)
            }
            await expectRefused(setup, token(setup.key, claims: ["exp": nil])) {
                if case .malformed = $0 { true } else { false }
            }
            await expectRefused(setup, token(setup.key, claims: ["exp": "\(start + 60)"])) {
                if case .malformed = $0 { true } else { false }
            }
        }
    }

    @Test(arguments: KeyType.allCases) func aTokenLivesAtMostFiveMinutes(curve: KeyType) async throws {
        try await withIssuer(curve) { setup in
            _ = try await verify(setup, token(setup.key, claims: ["iat": Self.start, "exp": Self.start + 300]))
            await expectRefused(setup, token(setup.key, claims: ["iat": Self.start, "exp": Self.start + 301])) {
                $0 == .lifetimeTooLong(seconds: 301)
            }
        }
    }

    @Test(arguments: KeyType.allCases) func aReplayedTokenIsRefusedUntilItExpires(curve: KeyType) async throws {
        try await withIssuer(curve) { setup in
            let first = token(setup.key, jti: "once")
            _ = try await verify(setup, first)
            await expectRefused(setup, first) { $0 == .replayed("once") }
            // Another token with the same jti is the same replay.
            await expectRefused(setup, token(setup.key, claims: ["exp": Self.start + 120], jti: "once")) {
                $0 == .replayed("once")
            }
            _ = try await verify(setup, token(setup.key, jti: "twice"))
            // Once the token has expired (with its skew) its jti is no longer needed: a fresh token
            // may carry it.
            setup.clock.advance(91)
            _ = try await verify(
                setup, token(setup.key, claims: ["iat": Self.start + 91, "exp": Self.start + 150], jti: "once"))
        }
    }

    @Test(arguments: KeyType.allCases) func concurrentCopiesOfOneTokenPassOnce(curve: KeyType) async throws {
        try await withIssuer(curve) { setup in
            let shared = token(setup.key, jti: "race")
            let accepted = await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        (try? await setup.verifier.verify(shared, audience: labeler, method: Self.method)) != nil
                    }
                }
                return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(accepted == 1)
        }
    }

    @Test(arguments: KeyType.allCases) func anUnknownIssuerIsUnresolvable(curve: KeyType) async throws {
        try await withIssuer(curve) { setup in
            let unknown = "did:plc:unknownaaaaaaaaaaaaaaaaa"
            await expectRefused(setup, token(setup.key, claims: ["iss": unknown])) {
                if case .unresolvable(let who, _) = $0 { who == unknown } else { false }
            }
            await expectRefused(setup, token(setup.key, claims: ["iss": "alice.test"])) {
                if case .malformed = $0 { true } else { false }
            }
        }
    }

    @Test func malformedTokensAreRefusedWithoutALookup() async throws {
        try await withIssuer(.secp256k1) { setup in
            for bad in ["", "abc", "a.b", "a.b.c.d", "!!.??.**", "e30.e30.AAAA", "e30.e30."] {
                await expectRefused(setup, bad) { error in
                    switch error {
                    case .malformed, .unsupportedAlgorithm: true
                    default: false
                    }
                }
            }
            #expect(await setup.resolver.fetches == 0)
        }
    }

    /// The cache keeps expiries in a heap; it must decide exactly as the plain rule says (forget
    /// the expired, then the soonest to expire when full), checked against that rule written
    /// plainly, over random traffic with a small capacity.
    @Test func theReplayCacheDecidesAsThePlainRule() {
        struct Plain {
            let capacity: Int
            var expiries: [String: Int64] = [:]
            func contains(_ key: String, at now: Int64) -> Bool { (expiries[key] ?? .min) > now }
            mutating func insert(_ key: String, until: Int64, at now: Int64) -> Bool {
                if contains(key, at: now) { return false }
                expiries = expiries.filter { $0.value > now }
                if expiries[key] == nil, expiries.count >= capacity,
                    let soonest = expiries.min(by: { $0.value < $1.value })
                {
                    expiries[soonest.key] = nil
                }
                expiries[key] = until
                return true
            }
        }
        var cache = ReplayCache(capacity: 50)
        var plain = Plain(capacity: 50)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ bound: UInt64) -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (state >> 33) % bound
        }
        // Time in units of 100 000, each entry living 1 to 300 units while time moves 0 to 2 a
        // step: entries expire and keys come back after expiring, and about 150 are alive at
        // once, so the capacity of 50 evicts too.
        var now: Int64 = 0
        for step in 0..<20_000 {
            now += Int64(next(3)) * 100_000
            let key = "k\(next(200))"
            // Distinct expiries, so that "the soonest" is one entry.
            let until = now + Int64(1 + next(300)) * 100_000 + Int64(step % 100_000)
            #expect(cache.insert(key, until: until, at: now) == plain.insert(key, until: until, at: now))
            if step % 500 == 0 {
                for k in 0..<200 {
                    #expect(cache.contains("k\(k)", at: now) == plain.contains("k\(k)", at: now))
                }
            }
        }
        #expect(cache.count == plain.expiries.count)
    }

    @Test func theReplayCacheIsBounded() {
        var cache = ReplayCache(capacity: 3)
        let firsts = [("a", 100), ("b", 50), ("c", 200)].map { cache.insert($0.0, until: Int64($0.1), at: 0) }
        #expect(firsts == [true, true, true])
        let again = cache.insert("a", until: 100, at: 10)
        #expect(!again)
        // Full: the one closest to expiry goes.
        let d = cache.insert("d", until: 300, at: 10)
        #expect(d && cache.count == 3)
        #expect(!cache.contains("b", at: 10))
        #expect(cache.contains("a", at: 10))
        // Expired entries go first.
        let e = cache.insert("e", until: 400, at: 150)
        #expect(e && cache.count == 3)
        #expect(!cache.contains("a", at: 150))
        #expect(cache.contains("c", at: 150) && cache.contains("d", at: 150) && cache.contains("e", at: 150))
    }
}
