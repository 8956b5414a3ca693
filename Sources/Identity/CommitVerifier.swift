import ATCrypto
import ATProto
import Synchronization

/// Checks `#commit` events against their accounts' current `#atproto` keys: the commit against
/// the event (`did`, `rev`), the sync 1.1 inversion proof when the frame carries `prevData`, and
/// the signature.
///
/// - A signature that fails is checked once more against a freshly resolved document before it
///   is called bad: the account may have rotated its key since the document was cached.
/// - DID documents come from the ``IdentityResolver`` (cached; `#identity` events invalidate it).
///   At most `lookupsInFlight` fetches run at once; the others wait their turn (a document in
///   the cache needs none).
/// - A DID whose lookup failed is not asked again until its backoff passes (doubling with each
///   failure in a row): its events fail at once, as `keyUnavailable`, instead of each waiting for
///   a directory that is down or slow.
///
/// The callers run one event of an account at a time (the pipeline's keyed scheduler), so a slow
/// lookup holds up that account's events only.
public final class CommitVerifier: Sendable {
    public struct Configuration: Sendable {
        /// DID document lookups running at once.
        public var lookupsInFlight = 8
        /// The wait after a DID's first failed lookup; each further failure doubles it.
        public var failureBackoff = Duration.seconds(30)
        /// The longest wait between two lookups of a DID that keeps failing.
        public var maximumBackoff = Duration.seconds(1800)
        /// The most keys kept parsed (`parsedKey`): past this many the cache starts again.
        public var parsedKeyCapacity = 100_000

        public init(lookupsInFlight: Int = 8, failureBackoff: Duration = .seconds(30)) {
            self.lookupsInFlight = lookupsInFlight
            self.failureBackoff = failureBackoff
            self.maximumBackoff = max(failureBackoff, .seconds(1800))
        }
    }

    /// Lookups made and the time they took, for `/metrics`.
    public struct LookupCounts: Sendable, Equatable {
        /// Key lookups asked of the resolver (from its cache or not).
        public var lookups = 0
        public var seconds = 0.0
        /// Lookups refused at once because the DID's backoff had not passed.
        public var backedOff = 0
        /// Lookups that failed (the DID then backs off).
        public var failures = 0
    }

    struct Backoff: Sendable {
        var failures: Int
        var until: ContinuousClock.Instant
    }

    public let resolver: IdentityResolver
    public let configuration: Configuration
    private let limiter: AsyncLimiter
    private let backoffs: Mutex<ExpiringCache<DID, Backoff>>
    private let counts = Mutex(LookupCounts())
    /// Keys parsed from documents, by their text (`type multibase`): decoding base58 and the
    /// curve point again for each commit would cost as much as a sixth of the check.
    private let parsedKeys = Mutex<[String: PublicKey]>([:])

    public init(resolver: IdentityResolver, configuration: Configuration = .init()) {
        self.resolver = resolver
        self.configuration = configuration
        limiter = AsyncLimiter(limit: max(1, configuration.lookupsInFlight))
        backoffs = Mutex(
            ExpiringCache(
                capacity: 100_000, timeToLive: max(configuration.maximumBackoff, configuration.failureBackoff)))
    }

    public var lookupCounts: LookupCounts { counts.withLock { $0 } }

    /// How many keys are kept parsed now.
    var parsedKeyCount: Int { parsedKeys.withLock { $0.count } }

    /// Verifies `event`; returns whether an inversion proof was checked (false: the frame has no
    /// `prevData`, from a producer older than sync 1.1).
    ///
    /// - Throws: why the event does not verify.
    @discardableResult
    public func verify(_ event: CommitEvent) async throws(CommitVerificationError) -> Bool {
        let commit = try event.signedCommit()
        let proved = try event.checkInversionProof(data: commit.data)
        let cached = try await key(of: event.repo, fresh: false)
        if commit.verifySignature(with: cached) { return proved }
        // Perhaps rotated since it was cached: the current document decides.
        guard let current = try? await key(of: event.repo, fresh: true), current != cached,
            commit.verifySignature(with: current)
        else {
            throw CommitVerificationError(.badSignature)
        }
        return proved
    }

    /// The account's `#atproto` key, within the lookup bound and the DID's backoff.
    /// `document`'s key `#fragment`, parsed once per distinct key text. Bounded: past
    /// `parsedKeyCapacity` keys it starts again (a lookup then parses once more).
    func parsedKey(_ fragment: String, of document: DIDDocument) throws(IdentityError) -> PublicKey {
        guard let method = document.verificationMethod(fragment), let text = method.publicKeyMultibase else {
            return try document.key(fragment)
        }
        let name = method.type + " " + text
        if let key = parsedKeys.withLock({ $0[name] }) { return key }
        let key = try document.key(fragment)
        parsedKeys.withLock { keys in
            if keys.count >= configuration.parsedKeyCapacity { keys.removeAll(keepingCapacity: true) }
            keys[name] = key
        }
        return key
    }

    func key(of did: DID, fresh: Bool) async throws(CommitVerificationError) -> PublicKey {
        let now = ContinuousClock.now
        if let backoff = backoffs.withLock({ $0.value(for: did, at: now) }), now < backoff.until {
            counts.withLock { $0.backedOff += 1 }
            throw CommitVerificationError(
                .keyUnavailable("\(did)'s last lookup failed; the next is due in \(backoff.until - now)"))
        }
        let start = ContinuousClock.now
        do {
            // A cached document needs no place among the lookups in flight.
            if !fresh, let document = await resolver.cachedDocument(for: did) {
                let key = try parsedKey("atproto", of: document)
                counts.withLock {
                    $0.lookups += 1
                    $0.seconds += (ContinuousClock.now - start).inSeconds
                }
                return key
            }
            let key = try await limiter.run { () async throws(IdentityError) -> PublicKey in
                try await resolver.key("atproto", of: did, fresh: fresh)
            }
            let elapsed = ContinuousClock.now - start
            counts.withLock {
                $0.lookups += 1
                $0.seconds += elapsed.inSeconds
            }
            backoffs.withLock { $0.remove(did) }
            return key
        } catch {
            let elapsed = ContinuousClock.now - start
            let wait = backoffs.withLock { cache -> Duration in
                let failures = (cache.value(for: did, at: .now)?.failures ?? 0) + 1
                var wait = configuration.failureBackoff
                for _ in 1..<min(failures, 16) where wait < configuration.maximumBackoff { wait = wait * 2 }
                wait = min(wait, configuration.maximumBackoff)
                cache.insert(Backoff(failures: failures, until: .now + wait), for: did, at: .now)
                return wait
            }
            counts.withLock {
                $0.lookups += 1
                $0.failures += 1
                $0.seconds += elapsed.inSeconds
            }
            throw CommitVerificationError(.keyUnavailable("\(error) (next lookup in \(wait))"))
        }
    }
}
