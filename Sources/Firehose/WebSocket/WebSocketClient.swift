import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
import Synchronization

/// One message received on a WebSocket (fragments already joined).
public enum WebSocketMessage: Sendable, Equatable {
    case binary([UInt8])
    case text(String)
}

/// Why a WebSocket connection could not be made or ended badly.
public struct WebSocketError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        /// TCP or TLS could not be established.
        case connect(String)
        /// The server answered the upgrade request with an HTTP status instead of 101.
        /// `retryAfter` is its `Retry-After` header in seconds, when it sent one.
        case http(status: Int, retryAfter: Int?)
        /// A message was larger than the limit.
        case messageTooLarge(limit: Int)
        /// Nothing arrived (not even a pong) for longer than the silence timeout.
        case silence(seconds: Int)
        /// The peer broke the WebSocket protocol.
        case protocolViolation(String)
    }

    public let kind: Kind

    public init(_ kind: Kind) { self.kind = kind }

    public var description: String {
        switch kind {
        case .connect(let why): "connection failed: \(why)"
        case .http(let status, let retryAfter):
            "server refused the WebSocket upgrade with HTTP \(status)"
                + (retryAfter.map { " (Retry-After: \($0) s)" } ?? "")
        case .messageTooLarge(let limit): "message larger than \(limit) bytes"
        case .silence(let s): "nothing received for \(s) s"
        case .protocolViolation(let why): "WebSocket protocol violation: \(why)"
        }
    }
}

/// A WebSocket client on SwiftNIO, written for long-lived event streams.
///
/// Unlike a general-purpose client it keeps the HTTP status of a refused upgrade (a relay answers
/// 429 with `Retry-After`, or 501), accepts messages up to a configured size (firehose frames reach
/// 5 MB; common clients default to 16 KiB and fail silently), pings on an interval and treats
/// silence as a dead connection.
public enum WebSocketClient {
    public struct Configuration: Sendable {
        /// Largest message accepted, after joining fragments.
        public var maxMessageSize: Int
        /// How often to send a ping.
        public var pingInterval: Duration
        /// Close the connection when nothing at all arrives for this long.
        public var silenceTimeout: Duration
        /// How long to wait for TCP, TLS and the upgrade response.
        public var connectTimeout: Duration
        /// Extra request headers (e.g. `User-Agent`).
        public var headers: [(String, String)]
        /// TLS settings for `wss://`; nil uses the system trust roots.
        public var tls: TLSConfiguration?
        /// Least time between two socket reads while the stream is light (zero: read as data
        /// arrives). See ``ReadPacer``: a few milliseconds turn a wake-up per message into one
        /// per window, at the price of that much latency.
        public var readWindow: Duration

        public init(
            maxMessageSize: Int = 8 << 20, pingInterval: Duration = .seconds(30),
            silenceTimeout: Duration = .seconds(90),
            connectTimeout: Duration = .seconds(15), headers: [(String, String)] = [("User-Agent", "labeler")],
            tls: TLSConfiguration? = nil, readWindow: Duration = .zero
        ) {
            self.maxMessageSize = maxMessageSize
            self.pingInterval = pingInterval
            self.silenceTimeout = silenceTimeout
            self.connectTimeout = connectTimeout
            self.headers = headers
            self.tls = tls
            self.readWindow = readWindow
        }
    }

    enum UpgradeResult: Sendable {
        case websocket(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>)
        case refused(status: Int, retryAfter: Int?)
    }

    /// Connects, runs `body` with the open session, and closes the connection when `body` returns
    /// or throws. The keepalive (pings, silence watchdog) runs alongside `body`.
    public static func withConnection<Result: Sendable>(
        to endpoint: WebSocketEndpoint,
        configuration: Configuration = Configuration(),
        _ body: (WebSocketSession) async throws -> Result
    ) async throws -> Result {
        let received = ReceivedFrames()
        let channel = try await connect(endpoint, configuration, received: received)
        return try await channel.executeThenClose { inbound, outbound in
            let session = WebSocketSession(
                inbound: inbound.makeAsyncIterator(), outbound: outbound, channel: channel.channel,
                maxMessageSize: configuration.maxMessageSize, received: received)
            return try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await session.keepAlive(
                        pingInterval: configuration.pingInterval, silenceTimeout: configuration.silenceTimeout)
                }
                defer { group.cancelAll() }
                return try await body(session)
            }
        }
    }

    static func connect(_ endpoint: WebSocketEndpoint, _ configuration: Configuration, received: ReceivedFrames)
        async throws
        -> NIOAsyncChannel<WebSocketFrame, WebSocketFrame>
    {
        let window = configuration.readWindow.components
        let readWindow = TimeAmount.seconds(window.seconds) + .nanoseconds(window.attoseconds / 1_000_000_000)
        let sslContext: NIOSSLContext?
        do {
            sslContext =
                endpoint.secure
                ? try NIOSSLContext(configuration: configuration.tls ?? .makeClientConfiguration()) : nil
        } catch {
            throw WebSocketError(.connect("TLS setup: \(error)"))
        }
        let timeout = configuration.connectTimeout.components
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(timeout.seconds) + .nanoseconds(timeout.attoseconds / 1_000_000_000))
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
        let maxFrameSize = min(configuration.maxMessageSize, Int(UInt32.max))
        let upgrade: EventLoopFuture<UpgradeResult>
        do {
            upgrade = try await bootstrap.connect(host: endpoint.host, port: endpoint.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        let name = endpoint.hostIsIPAddress ? nil : endpoint.host
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: sslContext, serverHostname: name))
                    }
                    let recorder = ResponseHeadRecorder()
                    let upgrader = NIOTypedWebSocketClientUpgrader<UpgradeResult>(
                        maxFrameSize: maxFrameSize,
                        upgradePipelineHandler: { channel, _ in
                            channel.eventLoop.makeCompletedFuture {
                                // Past the upgrade the recorder would see raw WebSocket bytes.
                                channel.pipeline.syncOperations.removeHandler(recorder, promise: nil)
                                try channel.pipeline.syncOperations.addHandler(FrameArrivalCounter(received))
                                if readWindow > .zero {
                                    try channel.pipeline.syncOperations.addHandler(
                                        ReadPacer(window: readWindow), position: .first)
                                }
                                return .websocket(try NIOAsyncChannel(wrappingChannelSynchronously: channel))
                            }
                        })
                    var headers = HTTPHeaders()
                    headers.add(name: "Host", value: endpoint.hostHeader)
                    for (name, value) in configuration.headers { headers.add(name: name, value: value) }
                    let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: endpoint.target, headers: headers)
                    let upgradeConfiguration = NIOTypedHTTPClientUpgradeConfiguration<UpgradeResult>(
                        upgradeRequestHead: head, upgraders: [upgrader],
                        notUpgradingCompletionHandler: { channel in
                            channel.eventLoop.makeCompletedFuture {
                                let response = recorder.head
                                let retryAfter = response?.headers.first(name: "Retry-After").flatMap { Int($0) }
                                channel.close(promise: nil)
                                return .refused(status: Int(response?.status.code ?? 0), retryAfter: retryAfter)
                            }
                        })
                    var pipeline = NIOUpgradableHTTPClientPipelineConfiguration(
                        upgradeConfiguration: upgradeConfiguration)
                    pipeline.leftOverBytesStrategy = .forwardBytes
                    let result = try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
                        configuration: pipeline)
                    // The recorder sits in front of the upgrade handler so it sees the response head
                    // even when the upgrade is refused.
                    let upgradeHandler = try channel.pipeline.syncOperations.handler(
                        type: NIOTypedHTTPClientUpgradeHandler<UpgradeResult>.self)
                    try channel.pipeline.syncOperations.addHandler(recorder, position: .before(upgradeHandler))
                    return result
                }
            }
        } catch {
            throw WebSocketError(.connect("\(endpoint.host):\(endpoint.port): \(error)"))
        }
        let result: UpgradeResult
        do { result = try await upgrade.get() } catch { throw WebSocketError(.connect("upgrade: \(error)")) }
        switch result {
        case .websocket(let channel): return channel
        case .refused(let status, let retryAfter): throw WebSocketError(.http(status: status, retryAfter: retryAfter))
        }
    }
}

/// Keeps the HTTP response head that answered the upgrade request.
final class ResponseHeadRecorder: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias InboundOut = HTTPClientResponsePart

    /// Written and read on the channel's event loop only.
    private(set) var head: HTTPResponseHead?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // The head is the first thing the HTTP decoder emits. Nothing after it is unwrapped: once
        // the upgrade starts, the decoder forwards raw WebSocket bytes through here.
        if head == nil, case .head(let head) = unwrapInboundIn(data) { self.head = head }
        context.fireChannelRead(data)
    }
}

/// An open WebSocket: read whole messages, answer pings, send pings, close.
public final class WebSocketSession: @unchecked Sendable {
    // `inbound` is used only by the task that calls `receive()`; the rest is thread-safe.
    private var inbound: NIOAsyncChannelInboundStream<WebSocketFrame>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<WebSocketFrame>
    private let channel: any Channel
    private let maxMessageSize: Int
    private let clock = ContinuousClock()
    private let lastActivity: Mutex<ContinuousClock.Instant>
    private let failure = Mutex<WebSocketError?>(nil)
    private let received: ReceivedFrames

    init(
        inbound: NIOAsyncChannelInboundStream<WebSocketFrame>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<WebSocketFrame>, channel: any Channel, maxMessageSize: Int,
        received: ReceivedFrames
    ) {
        self.inbound = inbound
        self.outbound = outbound
        self.channel = channel
        self.maxMessageSize = maxMessageSize
        self.received = received
        self.lastActivity = Mutex(ContinuousClock().now)
    }

    /// The next message and every other whole message received already, up to `limit` in all:
    /// waits only for the first. Empty when the peer closed the connection cleanly.
    ///
    /// A source hands a batch on at once, so it costs one wake-up of the next stage for all the
    /// messages one socket read brought.
    ///
    /// Past the first message it never waits for one that has not begun to arrive: a control
    /// frame (a pong, say) that was the last thing received ends the batch rather than holding it
    /// back until the next message.
    public func receiveAvailable(limit: Int) async throws -> [WebSocketMessage] {
        guard let first = try await receive() else { return [] }
        var messages = [first]
        while messages.count < limit, let next = try await receive(onlyWhatIsWaiting: true) {
            messages.append(next)
        }
        return messages
    }

    /// The next message, or nil when the peer closed the connection cleanly.
    public func receive() async throws -> WebSocketMessage? {
        try await receive(onlyWhatIsWaiting: false)
    }

    /// The next message, or nil when the peer closed the connection cleanly. With
    /// `onlyWhatIsWaiting`, also nil when no frame has been received that is not taken yet (the
    /// rest of a message that has begun is still waited for).
    private func receive(onlyWhatIsWaiting: Bool) async throws -> WebSocketMessage? {
        var fragments: ByteBuffer? = nil
        var fragmentsAreText = false
        while true {
            if onlyWhatIsWaiting && fragments == nil && !received.waiting { return nil }
            let frame: WebSocketFrame?
            do {
                frame = try await inbound.next()
            } catch {
                if let failure = failure.withLock({ $0 }) { throw failure }
                throw error
            }
            if frame != nil { received.taken() }
            guard let frame else {
                if let failure = failure.withLock({ $0 }) { throw failure }
                return nil
            }
            let now = clock.now
            lastActivity.withLock { $0 = now }
            switch frame.opcode {
            case .binary, .text:
                guard fragments == nil else {
                    throw WebSocketError(.protocolViolation("new message inside a fragmented one"))
                }
                if frame.fin { return try message(frame.unmaskedData, text: frame.opcode == .text) }
                fragments = frame.unmaskedData
                fragmentsAreText = frame.opcode == .text
            case .continuation:
                guard var buffer = fragments else {
                    throw WebSocketError(.protocolViolation("continuation without a message"))
                }
                var data = frame.unmaskedData
                guard buffer.readableBytes + data.readableBytes <= maxMessageSize else {
                    throw WebSocketError(.messageTooLarge(limit: maxMessageSize))
                }
                buffer.writeBuffer(&data)
                fragments = buffer
                if frame.fin {
                    fragments = nil
                    return try message(buffer, text: fragmentsAreText)
                }
            case .ping:
                try await send(.pong, data: frame.unmaskedData)
            case .pong:
                break
            case .connectionClose:
                try? await send(
                    .connectionClose,
                    data: frame.unmaskedData.getSlice(
                        at: frame.unmaskedData.readerIndex, length: min(2, frame.unmaskedData.readableBytes))
                        ?? ByteBuffer())
                return nil
            default:
                throw WebSocketError(.protocolViolation("unknown opcode \(frame.opcode)"))
            }
        }
    }

    private func message(_ buffer: ByteBuffer, text: Bool) throws -> WebSocketMessage {
        guard buffer.readableBytes <= maxMessageSize else {
            throw WebSocketError(.messageTooLarge(limit: maxMessageSize))
        }
        if text {
            guard let s = buffer.getString(at: buffer.readerIndex, length: buffer.readableBytes) else {
                throw WebSocketError(.protocolViolation("text message is not UTF-8"))
            }
            return .text(s)
        }
        return .binary(Array(buffer.readableBytesView))
    }

    /// Sends a text message (Jetstream's `options_update`).
    public func send(text: String) async throws {
        try await send(.text, data: ByteBuffer(string: text))
    }

    private func send(_ opcode: WebSocketOpcode, data: ByteBuffer) async throws {
        // Clients must mask every frame (RFC 6455 §5.3).
        try await outbound.write(WebSocketFrame(fin: true, opcode: opcode, maskKey: .random(), data: data))
    }

    /// Starts a clean close: sends a close frame and stops reading.
    public func close() async {
        var code = ByteBuffer()
        code.writeInteger(UInt16(1000))
        try? await send(.connectionClose, data: code)
        try? await channel.close()
    }

    /// Pings every `pingInterval` and closes the connection when nothing has arrived for
    /// `silenceTimeout`; `receive()` then throws `.silence`.
    func keepAlive(pingInterval: Duration, silenceTimeout: Duration) async throws {
        let tick = min(pingInterval, silenceTimeout / 4, .seconds(1))
        var lastPing = clock.now
        while !Task.isCancelled {
            try await Task.sleep(for: tick)
            let now = clock.now
            let quiet = now - lastActivity.withLock { $0 }
            if quiet > silenceTimeout {
                failure.withLock { $0 = WebSocketError(.silence(seconds: Int(quiet.components.seconds))) }
                try? await channel.close()
                return
            }
            if now - lastPing >= pingInterval {
                lastPing = now
                try? await send(.ping, data: ByteBuffer(string: "keepalive"))
            }
        }
    }
}
