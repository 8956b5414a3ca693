import ATProto
import Logging

/// `com.atproto.sync.subscribeRepos` from a relay, as an ordered stream of `SourceEvent`s that
/// survives disconnects.
///
/// - Resumes after the cursor the caller provides (the durable low-water mark) or after the last
///   seq it delivered in this process, whichever is later; repeated or backward seqs are skipped.
/// - Reconnects on every failure with jittered exponential backoff, which starts over after a
///   connection that delivered events or stayed up (``ReconnectBackoff``); a silent connection
///   (nothing for `silenceTimeout`) counts as dead, and so does one whose TLS or upgrade is not
///   done within `connectTimeout`. HTTP 429/5xx before the upgrade are retried, honouring
///   `Retry-After`; 501 (the host does not implement the endpoint) ends `run` with an error.
/// - The relay's close code and reason are logged and counted by code.
/// - A frame that cannot be decoded is a hard error (event-stream spec): it is counted and logged
///   with the last seq, the connection is dropped and re-established from the cursor.
/// - `FutureCursor` means our cursor is ahead of the relay: the source logs it loudly, emits
///   `.reset` and restarts from the live head, recording the gap.
public final class RelaySource: Sendable {
    /// The method every relay serves its stream at.
    public static let subscribePath = "/xrpc/com.atproto.sync.subscribeRepos"

    public struct Configuration: Sendable {
        /// The relay, e.g. `wss://bsky.network`. A path, if given, is replaced by the XRPC path.
        public var url: String
        public var webSocket: WebSocketClient.Configuration
        public var backoff: Backoff

        public init(url: String, webSocket: WebSocketClient.Configuration = .init(), backoff: Backoff = .init()) {
            self.url = url
            self.webSocket = webSocket
            self.backoff = backoff
        }
    }

    public struct FatalError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    public let configuration: Configuration
    public let decoder: RepoEventDecoder
    public let metrics = RelaySourceMetrics()
    let logger: Logger
    let endpoint: WebSocketEndpoint

    public init(configuration: Configuration, decoder: RepoEventDecoder = RepoEventDecoder(), logger: Logger) throws {
        self.configuration = configuration
        self.decoder = decoder
        self.logger = logger
        do {
            endpoint = try WebSocketEndpoint(configuration.url)
        } catch {
            throw FatalError(description: error.description)
        }
    }

    /// Reads the relay until the task is cancelled, calling `deliver` for each event in stream
    /// order. `deliver` may suspend (backpressure): the socket is not read meanwhile.
    ///
    /// - Parameter resumeAfter: the durable cursor, read before every (re)connection.
    public func run(
        resumeAfter: @escaping @Sendable () async -> Int64?,
        deliver: @escaping @Sendable (SourceEvent) async throws -> Void
    ) async throws {
        try await connectAndRead(resumeAfter: resumeAfter) { session, cursor, lastDelivered in
            try await self.read(session, cursor: cursor, lastDelivered: &lastDelivered, deliver: deliver)
        }
    }

    /// Reads the relay as ``run(resumeAfter:deliver:)`` does, handing over every message one
    /// socket read brought as one batch, each in its envelope: its seq and account read, its
    /// structure walked (a truncated or garbled message drops the connection here, as in `run`,
    /// and is fetched again), the rest left for the consumer's workers to decode.
    ///
    /// One difference from `run`: a message whose structure is whole but whose content does not
    /// decode (a CAR that does not parse, non-canonical CBOR inside) is found by the worker that
    /// opens it, after later messages went on; it is then counted as undecodable and its seq
    /// consumed, as a capture's would be, and the connection stays. Such a message is the same
    /// on every fetch, so dropping the connection would only repeat it.
    public func runSealed(
        resumeAfter: @escaping @Sendable () async -> Int64?,
        deliver: @escaping @Sendable ([SealedSourceEvent]) async throws -> Void
    ) async throws {
        try await connectAndRead(resumeAfter: resumeAfter) { session, cursor, lastDelivered in
            try await self.readSealed(session, cursor: cursor, lastDelivered: &lastDelivered, deliver: deliver)
        }
    }

    /// The connection loop of both ways of reading: connects after the cursor, lets `read` read
    /// the connection, and reconnects (with backoff) until the task is cancelled.
    private func connectAndRead(
        resumeAfter: @escaping @Sendable () async -> Int64?,
        read: (WebSocketSession, _ cursor: Int64?, _ lastDelivered: inout Int64?) async throws -> ConnectionEnd
    ) async throws {
        var rng = SystemRandomNumberGenerator()
        var backoff = ReconnectBackoff(configuration.backoff)
        let clock = ContinuousClock()
        var lastDelivered: Int64? = nil
        var liveOnly = false
        while !Task.isCancelled {
            let durable = await resumeAfter()
            let cursor: Int64? = liveOnly ? nil : [durable, lastDelivered].compactMap { $0 }.max()
            let target = endpoint.with(
                path: Self.subscribePath,
                query: cursor.map { [("cursor", String($0))] } ?? [])
            var waitAtLeast: Duration = .zero
            var outcome = "closed by the relay"
            var opened: ContinuousClock.Instant? = nil
            var closeReceived: WebSocketClose? = nil
            let deliveredBefore = metrics.snapshot.delivered
            do {
                let result = try await WebSocketClient.withConnection(
                    to: target, configuration: configuration.webSocket
                ) {
                    session in
                    opened = clock.now
                    metrics.update { $0.connections += 1 }
                    logger.info(
                        "connected to relay",
                        metadata: ["url": "\(target)", "cursor": "\(cursor.map(String.init) ?? "live")"])
                    defer { closeReceived = session.closeReceived }
                    return try await read(session, cursor, &lastDelivered)
                }
                switch result {
                case .futureCursor:
                    liveOnly = true
                    backoff.reset()
                    outcome = "FutureCursor"
                    continue
                case .closed:
                    liveOnly = false
                }
            } catch let error as WebSocketError {
                switch error.kind {
                case .http(let status, let retryAfter):
                    metrics.update { $0.httpErrors += 1 }
                    if status == 501 {
                        logger.error(
                            "relay does not implement subscribeRepos (HTTP 501); giving up",
                            metadata: ["url": "\(target)"])
                        throw FatalError(description: "\(target): HTTP 501, the host does not implement subscribeRepos")
                    }
                    if let retryAfter { waitAtLeast = .seconds(retryAfter) }
                case .connectTimeout:
                    metrics.update { $0.connectTimeouts += 1 }
                default:
                    break
                }
                outcome = error.description
            } catch let error as DeliveryFailure {
                // The consumer stopped the stream: not a connection problem, so no reconnect.
                throw error.underlying
            } catch is CancellationError {
                return
            } catch let error as FrameError {
                outcome = "undecodable frame: \(error)"
            } catch {
                if Task.isCancelled { return }
                outcome = "\(error)"
            }
            if Task.isCancelled { return }
            var metadata: Logger.Metadata = [:]
            if let close = closeReceived {
                let code = close.code ?? WebSocketClose.noStatus
                metrics.update { $0.closeCodes[code, default: 0] += 1 }
                outcome = "closed by the relay with \(close)"
                metadata["close_code"] = "\(code)"
                metadata["close_reason"] = "\(close.reason)"
            }
            backoff.connectionEnded(
                delivered: metrics.snapshot.delivered > deliveredBefore, openFor: opened.map { clock.now - $0 })
            let delay = max(backoff.nextDelay(using: &rng), waitAtLeast)
            metrics.update {
                $0.reconnects += 1
                $0.reconnectDelay = delay
                $0.longestReconnectDelay = max($0.longestReconnectDelay, delay)
            }
            metadata["reason"] = "\(outcome)"
            metadata["last_seq"] = "\(lastDelivered.map(String.init) ?? "none")"
            metadata["delay_ms"] =
                "\(delay.components.seconds * 1000 + delay.components.attoseconds / 1_000_000_000_000_000)"
            logger.warning("relay connection ended; reconnecting", metadata: metadata)
            do { try await Task.sleep(for: delay) } catch { return }
        }
    }

    /// An error thrown by the consumer's `deliver`, carried out of the connection unchanged.
    struct DeliveryFailure: Error {
        let underlying: any Error
    }

    /// Calls `deliver`, marking its errors as the consumer's.
    private func hand(_ event: SourceEvent, to deliver: @Sendable (SourceEvent) async throws -> Void) async throws {
        do { try await deliver(event) } catch { throw DeliveryFailure(underlying: error) }
    }

    private func hand(_ batch: [SealedSourceEvent], to deliver: @Sendable ([SealedSourceEvent]) async throws -> Void)
        async throws
    {
        guard !batch.isEmpty else { return }
        do { try await deliver(batch) } catch { throw DeliveryFailure(underlying: error) }
    }

    /// Most messages handed over at once by `runSealed` (a socket read rarely brings more).
    static let batchLimit = 256

    /// `read` for `runSealed`: the same decisions, per batch.
    private func readSealed(
        _ session: WebSocketSession, cursor: Int64?, lastDelivered: inout Int64?,
        deliver: @Sendable ([SealedSourceEvent]) async throws -> Void
    ) async throws -> ConnectionEnd {
        var awaitingFirstAfterReset = cursor == nil && lastDelivered != nil
        while true {
            let messages = try await session.receiveAvailable(limit: Self.batchLimit)
            if messages.isEmpty { return .closed }
            var batch: [SealedSourceEvent] = []
            batch.reserveCapacity(messages.count)
            var counts = RelaySourceMetrics.Snapshot()
            // Counted once per batch, whatever way the batch ends.
            defer {
                let newest = lastDelivered
                metrics.update { $0.add(counts, lastSeq: newest) }
            }
            for message in messages {
                guard case .binary(let bytes) = message else {
                    counts.unknownFrames += 1
                    continue
                }
                counts.messages += 1
                counts.bytes += bytes.count
                let sealed: SealedSourceEvent
                if let envelope = decoder.envelope(of: bytes, wholeFrame: true) {
                    sealed = .event(envelope)
                } else {
                    // No envelope: an #info or error frame, a type we do not know, or a
                    // malformed message. Decoding it tells which.
                    let event: RepoEvent
                    do {
                        event = try decoder.decode(bytes)
                    } catch  where error.rejectsOnlyEvent {
                        guard let seq = Self.seq(of: bytes) else {
                            // The events before it are good: they go on, then the connection drops.
                            try await hand(batch, to: deliver)
                            throw error
                        }
                        counts.rejectedEvents += 1
                        logger.warning("event rejected", metadata: ["seq": "\(seq)", "reason": "\(error)"])
                        sealed = .rejected(seq: seq, error, raw: bytes)
                        if let last = lastDelivered, seq <= last { continue }
                        batch.append(sealed)
                        lastDelivered = seq
                        continue
                    } catch {
                        counts.decodeErrors += 1
                        logger.error(
                            "undecodable frame; dropping the connection",
                            metadata: ["last_seq": "\(lastDelivered.map(String.init) ?? "none")", "error": "\(error)"])
                        // The events before it are good: they go on, then the connection drops.
                        try await hand(batch, to: deliver)
                        throw error
                    }
                    switch event {
                    case .info, .error:
                        guard let end = control(event, cursor: cursor, counts: &counts) else {
                            continue
                        }
                        try await hand(batch, to: deliver)
                        return end
                    case .unknown:
                        counts.unknownFrames += 1
                        continue
                    case .commit, .sync, .identity, .account:
                        // Decodes, yet no envelope: cannot happen for a well-formed message, but
                        // the decoded event serves as well.
                        guard event.seq != nil else { continue }
                        sealed = .event(RepoEventEnvelope(decoded: event))
                    }
                }
                guard let seq = sealed.seq else { continue }
                if awaitingFirstAfterReset {
                    awaitingFirstAfterReset = false
                    let previous = lastDelivered
                    metrics.update { $0.gaps.append(.init(after: previous, resumedAt: seq)) }
                    // The consumer starts over on a reset: it ends the batch.
                    try await hand(batch, to: deliver)
                    batch.removeAll()
                    try await hand([.reset(previousCursor: previous)], to: deliver)
                    lastDelivered = nil
                }
                if let last = lastDelivered, seq <= last {
                    counts.skippedSeqs += 1
                    continue
                }
                batch.append(sealed)
                lastDelivered = seq
                counts.events += 1
            }
            try await hand(batch, to: deliver)
        }
    }

    enum ConnectionEnd {
        case closed
        case futureCursor
    }

    private func read(
        _ session: WebSocketSession, cursor: Int64?, lastDelivered: inout Int64?,
        deliver: @Sendable (SourceEvent) async throws -> Void
    ) async throws -> ConnectionEnd {
        var awaitingFirstAfterReset = cursor == nil && lastDelivered != nil
        while let message = try await session.receive() {
            guard case .binary(let bytes) = message else {
                metrics.update { $0.unknownFrames += 1 }
                continue
            }
            metrics.update {
                $0.messages += 1
                $0.bytes += bytes.count
            }
            let event: RepoEvent
            do {
                event = try decoder.decode(bytes)
            } catch  where error.rejectsOnlyEvent {
                guard let seq = Self.seq(of: bytes) else { throw error }
                metrics.update { $0.rejectedEvents += 1 }
                logger.warning("event rejected", metadata: ["seq": "\(seq)", "reason": "\(error)"])
                if let last = lastDelivered, seq <= last { continue }
                try await hand(.rejected(seq: seq, error, raw: bytes), to: deliver)
                lastDelivered = seq
                continue
            } catch {
                metrics.update { $0.decodeErrors += 1 }
                logger.error(
                    "undecodable frame; dropping the connection",
                    metadata: ["last_seq": "\(lastDelivered.map(String.init) ?? "none")", "error": "\(error)"])
                throw error
            }
            switch event {
            case .info, .error:
                var counts = RelaySourceMetrics.Snapshot()
                let end = control(event, cursor: cursor, counts: &counts)
                metrics.update { $0.add(counts, lastSeq: nil) }
                if let end { return end }
            case .unknown:
                metrics.update { $0.unknownFrames += 1 }
            case .commit, .sync, .identity, .account:
                guard let seq = event.seq else { continue }
                if awaitingFirstAfterReset {
                    awaitingFirstAfterReset = false
                    let previous = lastDelivered
                    metrics.update { $0.gaps.append(.init(after: previous, resumedAt: seq)) }
                    try await hand(.reset(previousCursor: previous), to: deliver)
                    lastDelivered = nil
                }
                if let last = lastDelivered, seq <= last {
                    metrics.update { $0.skippedSeqs += 1 }
                    continue
                }
                try await hand(.event(seq: seq, event, raw: bytes), to: deliver)
                lastDelivered = seq
                metrics.update {
                    $0.events += 1
                    $0.lastSeq = seq
                }
            }
        }
        return .closed
    }

    /// An `#info` or error frame, in either way of reading: logged and counted in `counts`. An
    /// error frame ends the connection (`FutureCursor`: restart from the live head); `nil` means
    /// read on.
    private func control(
        _ event: RepoEvent, cursor: Int64?, counts: inout RelaySourceMetrics.Snapshot
    ) -> ConnectionEnd? {
        switch event {
        case .info(let info):
            if info.name == "OutdatedCursor" { counts.outdatedCursors += 1 }
            logger.warning("relay info", metadata: ["name": "\(info.name)", "message": "\(info.message ?? "")"])
            return nil
        case .error(let e):
            counts.errorFrames += 1
            if e.error == "FutureCursor" {
                counts.futureCursors += 1
                logger.critical(
                    "relay says our cursor is in its future; restarting from the live head (events between are lost)",
                    metadata: ["cursor": "\(cursor.map(String.init) ?? "none")", "message": "\(e.message ?? "")"])
                return .futureCursor
            }
            logger.error("relay error frame", metadata: ["error": "\(e.error)", "message": "\(e.message ?? "")"])
            return .closed
        default:
            return nil
        }
    }

    /// The `seq` of a frame whose envelope decodes, for events rejected for their content.
    static func seq(of message: [UInt8]) -> Int64? {
        guard let (_, body) = try? FrameCodec.split(message[...], decoder: CBORDecoder()) else { return nil }
        return body["seq"]?.intValue
    }
}
