import ATCrypto
import ATProto
import Foundation
import Logging
import NIOCore
import Synchronization

/// Resolves DIDs to their documents and handles to DIDs, and remembers both for a while.
///
/// - `did:plc` from a PLC directory (`GET {plc}/{did}`); `did:web` from
///   `https://{host}/.well-known/did.json` (a hostname only, as atproto allows).
/// - A handle through DNS TXT `_atproto.{handle}` (`did=…`), else
///   `https://{handle}/.well-known/atproto-did`. A handle is only believed when the DID's document
///   claims it back (``verifiedHandle(for:)``).
/// - Answers are cached for `cacheTTL` in a bounded cache; concurrent requests for the same DID
///   share one fetch. `#identity` events call ``invalidate(_:)``; a caller whose signature check
///   failed asks again with `fresh: true`, in case the key was rotated.
public actor IdentityResolver {
    public struct Configuration: Sendable {
        public var plcURL = "https://plc.directory"
        /// For each HTTP exchange.
        public var timeout = Duration.seconds(10)
        /// For each DNS query; shorter, since a handle with no DNS record still has its HTTPS
        /// well-known file to try.
        public var dnsTimeout = Duration.seconds(3)
        public var cacheTTL = Duration.seconds(3600)
        public var cacheCapacity = 100_000
        /// nil: the system's (`/etc/resolv.conf`).
        public var dnsServer: SocketAddress?
        /// The origin (`scheme://host[:port]`) that serves a host's `/.well-known/` files: https,
        /// except plain http for `localhost`, which did:web allows for development. Tests point
        /// it at their own servers.
        public var origin: @Sendable (String) -> String = IdentityResolver.defaultOrigin

        public init() {}
    }

    public static let defaultOrigin: @Sendable (String) -> String = { host in
        host == "localhost" || host.hasPrefix("localhost:") ? "http://\(host)" : "https://\(host)"
    }

    public let configuration: Configuration
    let fetcher: HTTPFetcher
    let dns: DNSTXTClient?
    private var documents: ExpiringCache<DID, DIDDocument>
    private var handles: ExpiringCache<Handle, DID>
    private var inFlight: [DID: Task<DIDDocument, any Error>] = [:]
    /// Fetches made (not answered from the cache), for tests and metrics.
    public private(set) var fetches = 0
    /// DID document requests answered from the cache and not, readable without waiting for the
    /// actor (`/metrics` reads them synchronously).
    public nonisolated let documentLookups = CacheCounts()

    public init(configuration: Configuration = .init(), fetcher: HTTPFetcher? = nil) {
        self.configuration = configuration
        self.fetcher = fetcher ?? HTTPFetcher(timeout: configuration.timeout, maximumBody: DIDDocument.maximumSize)
        let server = configuration.dnsServer ?? (try? DNSTXTClient.systemServer())
        dns = server.map { DNSTXTClient(server: $0, timeout: configuration.dnsTimeout) }
        documents = ExpiringCache(capacity: configuration.cacheCapacity, timeToLive: configuration.cacheTTL)
        handles = ExpiringCache(capacity: configuration.cacheCapacity, timeToLive: configuration.cacheTTL)
    }

    // MARK: DIDs

    /// The DID's document, from the cache unless `fresh`.
    public func document(for did: DID, fresh: Bool = false) async throws(IdentityError) -> DIDDocument {
        if !fresh, let cached = documents.value(for: did, at: .now) {
            documentLookups.hits.wrappingAdd(1, ordering: .relaxed)
            return cached
        }
        documentLookups.misses.wrappingAdd(1, ordering: .relaxed)
        let task: Task<DIDDocument, any Error>
        if let running = inFlight[did] {
            task = running
        } else {
            fetches += 1
            task = Task { try await self.fetchDocument(did) }
            inFlight[did] = task
        }
        do {
            let document = try await task.value
            if inFlight[did] == task {
                inFlight[did] = nil
                documents.insert(document, for: did, at: .now)
            }
            return document
        } catch {
            if inFlight[did] == task { inFlight[did] = nil }
            throw error as? IdentityError ?? .unreachable(url: did.rawValue, reason: "\(error)")
        }
    }

    /// The DID's document if the cache holds it, without fetching: lets a caller that bounds its
    /// fetches skip the bound for what is already known.
    public func cachedDocument(for did: DID) -> DIDDocument? {
        guard let cached = documents.value(for: did, at: .now) else { return nil }
        documentLookups.hits.wrappingAdd(1, ordering: .relaxed)
        return cached
    }

    /// The key under `fragment` (`atproto_label`, `atproto`) in the DID's document.
    public func key(_ fragment: String, of did: DID, fresh: Bool = false) async throws(IdentityError) -> PublicKey {
        try await document(for: did, fresh: fresh).key(fragment)
    }

    /// Where the DID's document is published.
    public nonisolated func documentURL(for did: DID) throws(IdentityError) -> String {
        switch did.method {
        case "plc":
            let base =
                configuration.plcURL.hasSuffix("/") ? String(configuration.plcURL.dropLast()) : configuration.plcURL
            return "\(base)/\(did.rawValue)"
        case "web":
            return configuration.origin(try Self.webHost(did)) + "/.well-known/did.json"
        default:
            throw IdentityError.unsupportedMethod(did)
        }
    }

    /// The host of a did:web: its identifier, percent-decoded (`localhost%3A2583`). atproto
    /// allows no path, so a `:` left in the identifier is refused.
    static func webHost(_ did: DID) throws(IdentityError) -> String {
        let identifier = did.identifier
        guard !identifier.contains(":"), let host = identifier.removingPercentEncoding, !host.isEmpty,
            !host.contains("/")
        else {
            throw IdentityError.badDocument("\(did): a did:web names a host and nothing else")
        }
        return host
    }

    private func fetchDocument(_ did: DID) async throws(IdentityError) -> DIDDocument {
        let url = try documentURL(for: did)
        let response = try await fetcher.get(url)
        switch response.status {
        case 200: return try DIDDocument(json: response.body, expected: did)
        case 404: throw IdentityError.notFound(did.rawValue)
        case 410: throw IdentityError.notFound("\(did.rawValue) (deactivated)")
        default: throw IdentityError.httpStatus(url: url, status: response.status)
        }
    }

    // MARK: Handles

    /// The DID a handle points to (DNS first, then HTTPS), without checking that the DID claims
    /// the handle back: use ``verifiedHandle(for:)`` or ``verify(handle:)`` for that.
    public func resolve(handle: Handle, fresh: Bool = false) async throws(IdentityError) -> DID {
        let handle = handle.normalized
        if !fresh, let cached = handles.value(for: handle, at: .now) { return cached }
        fetches += 1
        var dnsProblem: IdentityError?
        if let dns {
            var answer: DNSMessage.Answer?
            do { answer = try await dns.lookup("_atproto." + handle.rawValue) } catch { dnsProblem = error }
            if case .records(let records)? = answer {
                let dids = Set(records.filter { $0.hasPrefix("did=") }.map { String($0.dropFirst(4)) })
                if dids.count > 1 {
                    throw IdentityError.handleMismatch(
                        handle: handle, reason: "DNS has \(dids.count) different did= records")
                }
                if let text = dids.first {
                    guard let did = try? DID(text) else {
                        throw IdentityError.handleMismatch(handle: handle, reason: "DNS names \(text), not a DID")
                    }
                    handles.insert(did, for: handle, at: .now)
                    return did
                }
            }
        }
        let url = configuration.origin(handle.rawValue) + "/.well-known/atproto-did"
        let response: HTTPFetcher.Response
        do { response = try await fetcher.get(url) } catch {
            throw IdentityError.handleMismatch(
                handle: handle, reason: "no DNS record\(dnsProblem.map { " (\($0))" } ?? "") and \(error)")
        }
        guard response.status == 200 else {
            throw IdentityError.handleMismatch(
                handle: handle,
                reason:
                    "no DNS record\(dnsProblem.map { " (\($0))" } ?? "") and \(url) answered HTTP \(response.status)")
        }
        let text = String(decoding: response.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let did = try? DID(text) else {
            throw IdentityError.handleMismatch(handle: handle, reason: "\(url) does not answer a DID")
        }
        handles.insert(did, for: handle, at: .now)
        return did
    }

    /// The handle the DID's document claims, once it resolves back to the DID.
    public func verifiedHandle(for did: DID, fresh: Bool = false) async throws(IdentityError) -> Handle {
        let document = try await document(for: did, fresh: fresh)
        guard let handle = document.claimedHandle else {
            throw IdentityError.badDocument("\(did) claims no handle (alsoKnownAs has no at:// handle)")
        }
        let back = try await resolve(handle: handle, fresh: fresh)
        guard back == did else {
            throw IdentityError.handleMismatch(handle: handle, reason: "points to \(back), not \(did)")
        }
        return handle
    }

    /// The DID of a handle whose document claims it back.
    public func verify(handle: Handle, fresh: Bool = false) async throws(IdentityError) -> DID {
        let did = try await resolve(handle: handle, fresh: fresh)
        let document = try await document(for: did, fresh: fresh)
        guard document.claimedHandle?.normalized == handle.normalized else {
            throw IdentityError.handleMismatch(
                handle: handle, reason: "\(did) does not claim it (its document says \(document.alsoKnownAs))")
        }
        return did
    }

    /// Hits and misses of the document cache.
    public final class CacheCounts: Sendable {
        let hits = Atomic<Int>(0)
        let misses = Atomic<Int>(0)

        public var hitCount: Int { hits.load(ordering: .relaxed) }
        public var missCount: Int { misses.load(ordering: .relaxed) }
    }

    // MARK: Invalidation

    /// Forgets what is known of `did` (its document, and the handle that document claimed) and of
    /// `handle`: an `#identity` event says either may have changed.
    public func invalidate(_ did: DID, handle: Handle? = nil) {
        if let claimed = documents.value(for: did, at: .now)?.claimedHandle { handles.remove(claimed.normalized) }
        documents.remove(did)
        if let handle { handles.remove(handle.normalized) }
    }
}
