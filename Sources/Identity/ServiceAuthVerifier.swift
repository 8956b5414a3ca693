import ATCrypto
import ATProto
import Foundation

/// What a verified service-auth token says: who sent the request, for which method, until when.
public struct ServiceAuthClaims: Sendable, Equatable {
    /// `iss` without its `#fragment`: the account the request is made for.
    public var issuer: DID
    public var audience: String
    public var method: String
    public var issuedAt: Int64
    public var expires: Int64
    public var nonce: String
}

/// Why a service-auth token was refused. Each case reads as one line, naming what was wrong, so
/// that the 401 it becomes tells the caller (and the log tells the operator) what to fix.
public enum ServiceAuthError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Not three base64url parts, or a part that is not the JSON it should be.
    case malformed(String)
    /// `alg` is not ES256K or ES256, or `typ` names a PDS access, refresh or DPoP token.
    case unsupportedAlgorithm(String)
    /// The signature is not 64 bytes of `r ‖ s` (a DER signature, for instance).
    case signatureEncoding(Int)
    /// `s` is above half the curve order; atproto accepts only the low-S twin.
    case highS
    /// The issuer's `#atproto` key is on another curve than `alg` says.
    case keyMismatch(alg: String, key: KeyType)
    /// The signature does not verify against the issuer's key, even after resolving it afresh.
    case badSignature(issuer: DID)
    /// The issuer's DID or its `#atproto` key could not be resolved.
    case unresolvable(issuer: String, reason: String)
    case wrongAudience(String)
    case wrongMethod(String, expected: String)
    /// The issuer is not one of the accounts allowed to call the method (a moderator list).
    case issuerNotAllowed(issuer: String, method: String)
    /// `exp` is past (beyond the allowed clock skew).
    case expired(exp: Int64, now: Int64)
    /// `iat` is ahead of our clock by more than the allowed skew.
    case issuedInTheFuture(iat: Int64, now: Int64)
    /// `exp` is further after `iat` than a service-auth token may live.
    case lifetimeTooLong(seconds: Int64)
    /// The same issuer sent a token with this `jti` before, and it has not expired yet.
    case replayed(String)

    public var description: String {
        switch self {
        case .malformed(let reason): "malformed service-auth token: \(reason)"
        case .unsupportedAlgorithm(let alg): "unsupported token algorithm \(alg) (ES256K or ES256 only)"
        case .signatureEncoding(let count):
            "the token signature is \(count) bytes; only 64-byte r‖s is accepted (not DER)"
        case .highS: "the token signature is high-S; only low-S signatures are accepted"
        case .keyMismatch(let alg, let key): "the token says \(alg) but the issuer's #atproto key is \(key.rawValue)"
        case .badSignature(let issuer): "the token signature does not verify against the #atproto key of \(issuer)"
        case .unresolvable(let issuer, let reason): "cannot resolve the token issuer \(issuer): \(reason)"
        case .wrongAudience(let aud): "the token is for \(aud), not this labeler"
        case .wrongMethod(let lxm, let expected): "the token is for method \(lxm), not \(expected)"
        case .issuerNotAllowed(let issuer, let method): "\(issuer) may not call \(method) on this labeler"
        case .expired(let exp, let now): "the token expired at \(exp) (now \(now))"
        case .issuedInTheFuture(let iat, let now): "the token is issued at \(iat), in the future (now \(now))"
        case .lifetimeTooLong(let seconds):
            "the token lives \(seconds) s; at most \(ServiceAuthVerifier.maximumLifetime) s is accepted"
        case .replayed(let nonce): "the token (jti \(nonce)) was already used"
        }
    }
}

/// Checks the service-auth JWTs a PDS mints when it proxies a request to us (`atproto-proxy`):
/// ES256K or ES256, raw low-S `r ‖ s` signatures, signed by the `#atproto` key of `iss`.
///
/// Everything that needs no network (shape, algorithm, audience, method, times, signature form,
/// an already-used `jti`) is checked before the issuer's DID is resolved, so junk costs no lookup.
/// A signature that fails against the cached key is tried once against a freshly resolved one, in
/// case the account rotated its key. A `jti` is remembered until its token expires, so a captured
/// token cannot be sent twice; the memory is bounded (``replayCapacity``).
public actor ServiceAuthVerifier {
    /// Clock skew allowed on `exp` and `iat`, in seconds.
    public static let skew: Int64 = 30
    /// The longest `exp − iat` accepted: a PDS mints tokens for 60 s; five minutes leaves room.
    public static let maximumLifetime: Int64 = 300

    /// Finds the `#atproto` key of a DID; `fresh` skips any cache.
    public typealias KeyLookup = @Sendable (DID, _ fresh: Bool) async throws -> PublicKey

    private let lookup: KeyLookup
    private let now: @Sendable () -> Int64
    private var replay: ReplayCache

    /// - Parameters:
    ///   - resolver: resolves issuers' DID documents.
    ///   - replayCapacity: how many unexpired `jti`s are remembered at most.
    ///   - now: seconds since 1970; tests pass their own clock.
    public init(
        resolver: IdentityResolver, replayCapacity: Int = 100_000,
        now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }
    ) {
        self.init(
            lookup: { did, fresh in try await resolver.key("atproto", of: did, fresh: fresh) },
            replayCapacity: replayCapacity, now: now)
    }

    public init(
        lookup: @escaping KeyLookup, replayCapacity: Int = 100_000,
        now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }
    ) {
        self.lookup = lookup
        self.now = now
        replay = ReplayCache(capacity: replayCapacity)
    }

    /// Verifies `token` for a request to `method` addressed to `audience` (our DID; the
    /// `#atproto_labeler` service of it is accepted too), and uses up its `jti`.
    ///
    /// - Parameter issuers: when given, the only DIDs that may sign; anyone else is refused before
    ///   their DID is resolved, so a method kept for a few accounts costs strangers no lookup.
    public func verify(
        _ token: String, audience: DID, method: String, issuers: Set<DID>? = nil
    ) async throws(ServiceAuthError) -> ServiceAuthClaims {
        let parsed = try ParsedToken(token)
        let claims = parsed.claims
        guard claims.audience == audience.rawValue || claims.audience == audience.rawValue + "#atproto_labeler" else {
            throw .wrongAudience(claims.audience)
        }
        guard claims.method == method else { throw .wrongMethod(claims.method, expected: method) }
        if let issuers, !issuers.contains(claims.issuer) {
            throw .issuerNotAllowed(issuer: claims.issuer.rawValue, method: method)
        }
        let now = self.now()
        guard claims.expires + Self.skew > now else { throw .expired(exp: claims.expires, now: now) }
        guard claims.issuedAt <= now + Self.skew else { throw .issuedInTheFuture(iat: claims.issuedAt, now: now) }
        let lifetime = claims.expires - claims.issuedAt
        guard lifetime <= Self.maximumLifetime else { throw .lifetimeTooLong(seconds: lifetime) }
        guard parsed.signature.count == 64 else { throw .signatureEncoding(parsed.signature.count) }
        guard parsed.curve.isLowS(parsed.signature) else { throw .highS }
        let replayKey = claims.issuer.rawValue + " " + claims.nonce
        guard !replay.contains(replayKey, at: now) else { throw .replayed(claims.nonce) }

        var key = try await resolveKey(claims.issuer, fresh: false)
        if key.type != parsed.curve || !key.verify(signature: parsed.signature, for: parsed.signingInput) {
            key = try await resolveKey(claims.issuer, fresh: true)
            guard key.type == parsed.curve else { throw .keyMismatch(alg: parsed.algorithm, key: key.type) }
            guard key.verify(signature: parsed.signature, for: parsed.signingInput) else {
                throw .badSignature(issuer: claims.issuer)
            }
        }
        // Checked again: another request with the same token may have passed while this one
        // waited for the key.
        guard replay.insert(replayKey, until: claims.expires + Self.skew, at: now) else {
            throw .replayed(claims.nonce)
        }
        return claims
    }

    private func resolveKey(_ did: DID, fresh: Bool) async throws(ServiceAuthError) -> PublicKey {
        do { return try await lookup(did, fresh) } catch {
            throw .unresolvable(issuer: did.rawValue, reason: "\(error)")
        }
    }

    /// How many `jti`s are remembered now.
    public var rememberedCount: Int { replay.count }
}

/// A decoded token, before anything but its shape is checked.
struct ParsedToken {
    var algorithm: String
    var curve: KeyType
    var claims: ServiceAuthClaims
    /// The ASCII bytes of `header.payload`, which the signature covers.
    var signingInput: [UInt8]
    var signature: [UInt8]

    init(_ token: String) throws(ServiceAuthError) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .malformed("\(parts.count) parts, not header.payload.signature") }
        guard let headerBytes = Base64.decode(parts[0], alphabet: .url),
            let payloadBytes = Base64.decode(parts[1], alphabet: .url),
            let signature = Base64.decode(parts[2], alphabet: .url)
        else { throw .malformed("a part is not base64url") }
        guard let header = try? DataModelJSON.parseObject(String(decoding: headerBytes, as: UTF8.self)) else {
            throw .malformed("the header is not a JSON object")
        }
        guard let alg = header["alg"]?.stringValue else { throw .malformed("the header has no alg") }
        switch alg {
        case "ES256K": curve = .secp256k1
        case "ES256": curve = .p256
        default: throw .unsupportedAlgorithm(alg)
        }
        // A PDS's own session tokens are JWTs too; they must never pass for service auth.
        if let typ = header["typ"]?.stringValue, ["at+jwt", "refresh+jwt", "dpop+jwt"].contains(typ.lowercased()) {
            throw .unsupportedAlgorithm("\(alg) with typ \(typ)")
        }
        guard let payload = try? DataModelJSON.parseObject(String(decoding: payloadBytes, as: UTF8.self)) else {
            throw .malformed("the payload is not a JSON object")
        }
        guard let iss = payload["iss"]?.stringValue else { throw .malformed("no iss") }
        let issuerText = String(iss.prefix { $0 != "#" })
        guard let issuer = try? DID(issuerText) else { throw .malformed("iss is not a DID: \(iss)") }
        guard let aud = payload["aud"]?.stringValue else { throw .malformed("no aud") }
        guard let lxm = payload["lxm"]?.stringValue else { throw .malformed("no lxm") }
        guard let exp = payload["exp"]?.intValue else { throw .malformed("no integer exp") }
        guard let iat = payload["iat"]?.intValue else { throw .malformed("no integer iat") }
        guard let jti = payload["jti"]?.stringValue, !jti.isEmpty, jti.utf8.count <= 256 else {
            throw .malformed("no jti (or longer than 256 bytes)")
        }
        algorithm = alg
        claims = ServiceAuthClaims(
            issuer: issuer, audience: aud, method: lxm, issuedAt: iat, expires: exp, nonce: jti)
        signingInput = Array(parts[0].utf8) + [UInt8(ascii: ".")] + Array(parts[1].utf8)
        self.signature = signature
    }
}

/// The `jti`s of unexpired tokens. Bounded: expired ones are forgotten as new ones come, and when
/// it is full of unexpired ones it forgets the one that expires soonest (the one whose replay
/// window is nearly shut). Expiries are kept in a min-heap beside the map, so an insert costs
/// O(log n) even when full: a reporter minting tokens as fast as the limits allow cannot make each
/// request scan the whole cache. Pure (the caller passes the time), so it is tested without
/// waiting.
struct ReplayCache {
    let capacity: Int
    private var expiries: [String: Int64] = [:]
    /// Every remembered key with its expiry, soonest first; an entry whose key was forgotten or
    /// remembered again with another expiry is stale and skipped when it reaches the top.
    private var soonest = ExpiryHeap()

    init(capacity: Int) {
        precondition(capacity > 0, "a replay cache holds at least one entry")
        self.capacity = capacity
    }

    var count: Int { expiries.count }

    func contains(_ key: String, at now: Int64) -> Bool {
        guard let until = expiries[key] else { return false }
        return until > now
    }

    /// Remembers `key` until `until`; false when it is already remembered and not expired.
    mutating func insert(_ key: String, until: Int64, at now: Int64) -> Bool {
        if contains(key, at: now) { return false }
        while let top = soonest.peek, top.until <= now { forget(soonest.pop()) }
        if expiries[key] == nil, expiries.count >= capacity {
            while expiries.count >= capacity, !soonest.isEmpty { forget(soonest.pop()) }
        }
        expiries[key] = until
        soonest.push((until, key))
        return true
    }

    /// Forgets the heap entry's key unless the entry is stale.
    private mutating func forget(_ entry: (until: Int64, key: String)) {
        if expiries[entry.key] == entry.until { expiries[entry.key] = nil }
    }
}

/// A binary min-heap of expiries.
struct ExpiryHeap {
    private var items: [(until: Int64, key: String)] = []

    var isEmpty: Bool { items.isEmpty }
    var peek: (until: Int64, key: String)? { items.first }

    mutating func push(_ item: (until: Int64, key: String)) {
        items.append(item)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].until < items[parent].until else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the soonest; the heap must not be empty.
    mutating func pop() -> (until: Int64, key: String) {
        let top = items[0]
        let last = items.removeLast()
        guard !items.isEmpty else { return top }
        items[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < items.count, items[left].until < items[smallest].until { smallest = left }
            if right < items.count, items[right].until < items[smallest].until { smallest = right }
            guard smallest != parent else { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}
