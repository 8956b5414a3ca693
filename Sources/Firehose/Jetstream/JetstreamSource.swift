import ATProto
import Logging
import Synchronization

/// Jetstream v1 (`/subscribe`, JSON) as an event source: the same typed events as the relay, with
/// `time_us` as the seq. On reconnect it asks for a few seconds before the last event it delivered
/// (Jetstream's advice) and skips what it already delivered, so nothing is lost or repeated.
/// Jetstream is not authenticated: there are no CARs or signatures to check.
public final class JetstreamSource: EventSource {
    public struct Configuration: Sendable {
        /// e.g. `wss://jetstream2.us-east.bsky.network/subscribe`.
        public var url: String
        /// NSIDs or `prefix.*`; empty means all. Identity and account events always come.
        public var wantedCollections: [String]
        public var wantedDids: [String]
        /// Jetstream's zstd dictionary; when set, asks for `compress=true`.
        public var compressionDictionary: [UInt8]?
        /// How far before the last delivered event to resume.
        public var rewind: Duration
        public var webSocket: WebSocketClient.Configuration
        public var backoff: Backoff

        public init(
            url: String, wantedCollections: [String] = [], wantedDids: [String] = [],
            compressionDictionary: [UInt8]? = nil, rewind: Duration = .seconds(5),
            webSocket: WebSocketClient.Configuration = .init(), backoff: Backoff = .init()
        ) {
            self.url = url
            self.wantedCollections = wantedCollections
            self.wantedDids = wantedDids
            self.compressionDictionary = compressionDictionary
            self.rewind = rewind
            self.webSocket = webSocket
            self.backoff = backoff
        }
    }

    public struct Counts: Sendable, Equatable {
        public var connections = 0
        public var messages = 0
        public var events = 0
        public var badEvents = 0
        public var skipped = 0
        public var unknown = 0
        /// Reconnections after a failure or a close.
        public var reconnects = 0
        /// Refused WebSocket upgrades (HTTP errors).
        public var httpErrors = 0
        /// Connections whose TCP, TLS or upgrade did not finish within the connect timeout.
        public var connectTimeouts = 0
        /// Close frames the server sent, by code (1005: a close without one).
        public var closeCodes: [UInt16: Int] = [:]
        /// The wait chosen before the last reconnection.
        public var reconnectDelay: Duration?

        mutating func add(_ other: Counts) {
            connections += other.connections
            messages += other.messages
            events += other.events
            badEvents += other.badEvents
            skipped += other.skipped
            unknown += other.unknown
        }
    }

    public let configuration: Configuration
    let endpoint: WebSocketEndpoint
    let logger: Logger
    let decompressor: ZstdDictionaryDecompressor?
    private let state = Mutex(Counts())
    public var counts: Counts { state.withLock { $0 } }
    public var cursorName: CursorName { .jetstream(host: endpoint.hostHeader) }

    public init(configuration: Configuration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        do { endpoint = try WebSocketEndpoint(configuration.url) } catch {
            throw RelaySource.FatalError(description: error.description)
        }
        for collection in configuration.wantedCollections where !NSID.isValidGlob(collection) {
            throw RelaySource.FatalError(
                description: "wanted collection \"\(collection)\" is not an NSID or NSID prefix with .*")
        }
        for did in configuration.wantedDids where !DID.isValid(did) {
            throw RelaySource.FatalError(description: "wanted DID \"\(did)\" is not a valid DID")
        }
        decompressor = try configuration.compressionDictionary.map { bytes in
            do { return try ZstdDictionaryDecompressor(dictionary: bytes) } catch {
                throw RelaySource.FatalError(description: "Jetstream dictionary: \(error)")
            }
        }
    }

    /// The request target for a connection resuming after `cursor` (µs).
    func target(cursor: Int64?) -> WebSocketEndpoint {
        var query: [(String, String)] = configuration.wantedCollections.map { ("wantedCollections", $0) }
        query += configuration.wantedDids.map { ("wantedDids", $0) }
        if let cursor {
            let rewind = configuration.rewind.components
            let micros = rewind.seconds * 1_000_000 + rewind.attoseconds / 1_000_000_000_000
            query.append(("cursor", String(max(0, cursor - micros))))
        }
        if decompressor != nil { query.append(("compress", "true")) }
        return endpoint.with(path: endpoint.path == "/" ? "/subscribe" : endpoint.path, query: query)
    }

    public func run(
        resumeAfter: @escaping @Sendable () async -> Int64?,
        deliver: @escaping @Sendable (SourceEvent) async throws -> Void
    ) async throws {
        try await runBatches(resumeAfter: resumeAfter) { events in
            for event in events { try await deliver(event) }
        }
    }

    /// Hands over every event one socket read brought as one batch (decoded: Jetstream's JSON
    /// has no cheaper first step), so the consumer is woken once per read, not per event.
    public func runSealed(
        resumeAfter: @escaping @Sendable () async -> Int64?,
        deliver: @escaping @Sendable ([SealedSourceEvent]) async throws -> Void
    ) async throws {
        try await runBatches(resumeAfter: resumeAfter) { events in
            try await deliver(events.map { SealedSourceEvent($0) })
        }
    }

    /// Most messages handed over at once.
    static let batchLimit = 256

    private func runBatches(
        resumeAfter: @escaping @Sendable () async -> Int64?,
        deliver: @escaping @Sendable ([SourceEvent]) async throws -> Void
    ) async throws {
        var rng = SystemRandomNumberGenerator()
        var backoff = ReconnectBackoff(configuration.backoff)
        let clock = ContinuousClock()
        var lastDelivered: Int64? = nil
        let decoder = JetstreamEventDecoder()
        while !Task.isCancelled {
            let durable = await resumeAfter()
            let cursor = [durable, lastDelivered].compactMap { $0 }.max()
            let target = target(cursor: cursor)
            var waitAtLeast: Duration = .zero
            var reason = "closed by the server"
            var opened: ContinuousClock.Instant? = nil
            var delivered = false
            do {
                try await WebSocketClient.withConnection(to: target, configuration: configuration.webSocket) {
                    session in
                    opened = clock.now
                    state.withLock { $0.connections += 1 }
                    logger.info("connected to Jetstream", metadata: ["url": "\(target)"])
                    defer {
                        if let close = session.closeReceived {
                            reason = "closed by the server with \(close)"
                            state.withLock { $0.closeCodes[close.code ?? WebSocketClose.noStatus, default: 0] += 1 }
                        }
                    }
                    while case let messages = try await session.receiveAvailable(limit: Self.batchLimit),
                        !messages.isEmpty
                    {
                        var counted = Counts()
                        var batch: [SourceEvent] = []
                        batch.reserveCapacity(messages.count)
                        // The batch's newest seq; `lastDelivered` moves only once the batch is
                        // handed over, so a message that fails later in the batch (a corrupt
                        // zstd frame) does not make the reconnect skip the events before it.
                        var newest = lastDelivered
                        defer { state.withLock { $0.add(counted) } }
                        for message in messages {
                            let text: String
                            switch message {
                            case .text(let t): text = t
                            case .binary(let bytes):
                                guard let decompressor else {
                                    counted.unknown += 1
                                    continue
                                }
                                text = String(decoding: try decompressor.decompress(bytes), as: UTF8.self)
                            }
                            counted.messages += 1
                            let event: RepoEvent
                            do {
                                event = try decoder.decode(text)
                            } catch {
                                counted.badEvents += 1
                                logger.warning("bad Jetstream event skipped", metadata: ["error": "\(error)"])
                                continue
                            }
                            guard let seq = event.seq else {
                                counted.unknown += 1
                                continue
                            }
                            if let last = newest ?? durable, seq <= last {
                                counted.skipped += 1
                                continue
                            }
                            batch.append(.event(seq: seq, event, raw: Array(text.utf8)))
                            newest = seq
                            counted.events += 1
                        }
                        guard !batch.isEmpty else { continue }
                        do {
                            try await deliver(batch)
                        } catch {
                            throw RelaySource.DeliveryFailure(underlying: error)
                        }
                        lastDelivered = newest
                        delivered = true
                    }
                }
            } catch let error as RelaySource.DeliveryFailure {
                throw error.underlying
            } catch let error as WebSocketError {
                switch error.kind {
                case .http: state.withLock { $0.httpErrors += 1 }
                case .connectTimeout: state.withLock { $0.connectTimeouts += 1 }
                default: break
                }
                if case .http(let status, let retryAfter) = error.kind {
                    if status == 400 || status == 501 {
                        throw RelaySource.FatalError(
                            description: "\(target): Jetstream refused the subscription (HTTP \(status))")
                    }
                    if let retryAfter { waitAtLeast = .seconds(retryAfter) }
                }
                reason = error.description
            } catch {
                if Task.isCancelled { return }
                reason = "\(error)"
            }
            if Task.isCancelled { return }
            backoff.connectionEnded(delivered: delivered, openFor: opened.map { clock.now - $0 })
            let delay = max(backoff.nextDelay(using: &rng), waitAtLeast)
            state.withLock {
                $0.reconnects += 1
                $0.reconnectDelay = delay
            }
            logger.warning("Jetstream connection ended; reconnecting", metadata: ["reason": "\(reason)"])
            do { try await Task.sleep(for: delay) } catch { return }
        }
    }
}
