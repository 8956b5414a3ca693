import ATProto
import Logging

/// Follows a labeler's `com.atproto.label.subscribeLabels` stream (ours or another's): connects
/// with `?cursor=` after the last seq it handed over, reconnects with backoff when the connection
/// drops, and hands each message to the caller in order. Seqs at or below the last one handed
/// over are skipped, so a reconnect never repeats a label.
public struct LabelStreamClient: Sendable {
    /// The stream ended for good: the server sent an error frame (`FutureCursor`,
    /// `ConsumerTooSlow`, …) and closed.
    public struct Ended: Error, CustomStringConvertible, Sendable {
        public let error: ErrorMessage
        public var description: String {
            "the label stream ended: \(error.error)\(error.message.map { ": \($0)" } ?? "")"
        }
    }

    /// An error thrown by `deliver`, carried past the reconnect logic.
    struct ConsumerError: Error {
        let error: any Error
    }

    public let endpoint: WebSocketEndpoint
    public let webSocket: WebSocketClient.Configuration
    public let backoff: Backoff
    let logger: Logger

    /// - Parameter url: the labeler's address (`https://host`, `ws://host:port`, …); the
    ///   `subscribeLabels` path is added when it has none.
    public init(
        url: String, webSocket: WebSocketClient.Configuration = .init(), backoff: Backoff = .init(), logger: Logger
    ) throws(WebSocketEndpoint.Error) {
        let parsed = try WebSocketEndpoint(url)
        let path = parsed.target.split(separator: "?").first.map(String.init) ?? "/"
        endpoint =
            path == "/" || path.isEmpty
            ? parsed.with(path: "/xrpc/com.atproto.label.subscribeLabels", query: []) : parsed
        self.webSocket = webSocket
        self.backoff = backoff
        self.logger = logger
    }

    /// Reads until the task is cancelled or the server ends the stream with an error frame
    /// (thrown as `Ended`). `cursor` nil means live only.
    public func run(cursor: Int64?, deliver: (LabelStreamMessage) async throws -> Void) async throws {
        var last = cursor
        var backoff = ReconnectBackoff(self.backoff)
        var rng = SystemRandomNumberGenerator()
        let clock = ContinuousClock()
        while !Task.isCancelled {
            let target = endpoint.with(
                path: endpoint.target.split(separator: "?").first.map(String.init) ?? "/",
                query: last.map { [("cursor", String($0))] } ?? [])
            var opened: ContinuousClock.Instant? = nil
            var delivered = false
            do {
                try await WebSocketClient.withConnection(to: target, configuration: webSocket) { session in
                    opened = clock.now
                    logger.info("connected", metadata: ["url": "\(target)"])
                    defer {
                        if let close = session.closeReceived {
                            logger.warning("the server closed the connection", metadata: ["close": "\(close)"])
                        }
                    }
                    while let message = try await session.receive() {
                        guard case .binary(let bytes) = message else { continue }
                        let decoded = try LabelStreamMessage.decode(bytes[...], maxSize: webSocket.maxMessageSize)
                        switch decoded {
                        case .labels(let seq, _):
                            if let l = last, seq <= l { continue }
                            do { try await deliver(decoded) } catch { throw ConsumerError(error: error) }
                            last = seq
                            delivered = true
                        case .error(let error):
                            throw Ended(error: error)
                        default:
                            do { try await deliver(decoded) } catch { throw ConsumerError(error: error) }
                        }
                    }
                }
            } catch let ended as Ended {
                throw ended
            } catch let consumer as ConsumerError {
                // The caller's own error (or its request to stop) ends the run as it is.
                throw consumer.error
            } catch is CancellationError {
                return
            } catch let error as FrameError {
                // A frame we cannot read: the stream is broken; reconnecting resumes after the last good seq.
                logger.error("undecodable frame; reconnecting", metadata: ["error": "\(error)"])
            } catch {
                if Task.isCancelled { return }
                logger.warning("connection ended; reconnecting", metadata: ["error": "\(error)"])
            }
            backoff.connectionEnded(delivered: delivered, openFor: opened.map { clock.now - $0 })
            try await Task.sleep(for: backoff.nextDelay(using: &rng))
        }
    }
}
