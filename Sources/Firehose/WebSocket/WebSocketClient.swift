import ATProto
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOTLS
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
        /// A text message whose bytes are not UTF-8.
        case invalidText
        /// The connection was not ready within the connect timeout: `stage` is the step that was
        /// still waiting (a host that accepts the connection and then says nothing would
        /// otherwise hold the client for good).
        case connectTimeout(stage: ConnectStage, after: Duration)
    }

    /// The steps of opening a connection, in order.
    public enum ConnectStage: String, Sendable, Equatable {
        case tcp = "TCP connection"
        case tls = "TLS handshake"
        case upgrade = "WebSocket upgrade"
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
        case .invalidText: "text message is not UTF-8"
        case .connectTimeout(let stage, let after):
            "\(stage.rawValue) not done within \(Self.seconds(after)) s"
        }
    }

    static func seconds(_ duration: Duration) -> String {
        let seconds = duration.inSeconds
        return seconds == seconds.rounded() ? "\(Int(seconds))" : "\(seconds)"
    }

    /// The close code this side sends when the error ends the connection (RFC 6455 §7.4.1); nil
    /// when there is no connection to close politely (it never opened, or went silent).
    public var closeCode: UInt16? {
        switch kind {
        case .protocolViolation: 1002
        case .invalidText: 1007
        case .messageTooLarge: 1009
        case .connect, .http, .silence, .connectTimeout: nil
        }
    }
}

/// A WebSocket client on SwiftNIO, written for long-lived event streams.
///
/// Unlike a general-purpose client it keeps the HTTP status of a refused upgrade (a relay answers
/// 429 with `Retry-After`, or 501), accepts messages up to a configured size (firehose frames reach
/// 5 MB; common clients default to 16 KiB and fail silently), pings on an interval and treats
/// silence as a dead connection. TCP, TLS and the upgrade share one deadline, since a server can
/// stall at any of them; the close code and reason a server sends are kept, and the client's own
/// close is a handshake. No extension is negotiated, so a frame with a reserved bit set, like a
/// text message that is not UTF-8, fails the connection with the RFC 6455 close code.
public enum WebSocketClient {
    public struct Configuration: Sendable {
        /// Largest message accepted, after joining fragments.
        public var maxMessageSize: Int
        /// How often to send a ping.
        public var pingInterval: Duration
        /// Close the connection when nothing at all arrives for this long.
        public var silenceTimeout: Duration
        /// How long TCP, TLS and the upgrade response may take together.
        public var connectTimeout: Duration
        /// How long to wait for the peer's close frame after sending ours.
        public var closeTimeout: Duration
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
            connectTimeout: Duration = .seconds(10), closeTimeout: Duration = .seconds(1),
            headers: [(String, String)] = [("User-Agent", "labeler")],
            tls: TLSConfiguration? = nil, readWindow: Duration = .zero
        ) {
            self.maxMessageSize = maxMessageSize
            self.pingInterval = pingInterval
            self.silenceTimeout = silenceTimeout
            self.connectTimeout = connectTimeout
            self.closeTimeout = closeTimeout
            self.headers = headers
            self.tls = tls
            self.readWindow = readWindow
        }
    }

    enum UpgradeResult: Sendable {
        case websocket(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, NIOLoopBound<CloseHandshake>)
        case refused(status: Int, retryAfter: Int?)
    }

    /// Connects, runs `body` with the open session, and closes the connection when `body` returns
    /// or throws. The keepalive (pings, silence watchdog) runs alongside `body`.
    ///
    /// Unless the peer closed first, the close is a handshake: a close frame goes out (1000 when
    /// `body` ends, 1001 when the task was cancelled, the protocol error's code when the peer broke
    /// the protocol) and the peer's reply is awaited for at most `closeTimeout`.
    public static func withConnection<Value: Sendable>(
        to endpoint: WebSocketEndpoint,
        configuration: Configuration = Configuration(),
        _ body: (WebSocketSession) async throws -> Value
    ) async throws -> Value {
        let received = ReceivedFrames()
        let (channel, handshake) = try await connect(endpoint, configuration, received: received)
        return try await channel.executeThenClose { inbound, outbound in
            let session = WebSocketSession(
                inbound: inbound.makeAsyncIterator(), outbound: outbound, channel: channel.channel,
                maxMessageSize: configuration.maxMessageSize, received: received, closeHandshake: handshake,
                closeTimeout: configuration.closeTimeout)
            let outcome: Result<Value, any Error>
            do {
                outcome = .success(
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            try await session.keepAlive(
                                pingInterval: configuration.pingInterval,
                                silenceTimeout: configuration.silenceTimeout)
                        }
                        defer { group.cancelAll() }
                        return try await body(session)
                    })
            } catch {
                outcome = .failure(error)
            }
            switch outcome {
            case .success: await session.close(code: Task.isCancelled ? 1001 : 1000)
            case .failure(let error as WebSocketError):
                if let code = error.closeCode { await session.close(code: code, reason: error.description) }
            case .failure:
                await session.close(code: Task.isCancelled ? 1001 : 1000)
            }
            return try outcome.get()
        }
    }

    static func connect(_ endpoint: WebSocketEndpoint, _ configuration: Configuration, received: ReceivedFrames)
        async throws
        -> (NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, NIOLoopBound<CloseHandshake>)
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
        let connectTimeout = TimeAmount.seconds(timeout.seconds) + .nanoseconds(timeout.attoseconds / 1_000_000_000)
        // One deadline for TCP, TLS and the upgrade together: each may stall on its own.
        let deadline = NIODeadline.now() + connectTimeout
        let expired = ExpiredStage()
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
        let maxFrameSize = min(configuration.maxMessageSize, Int(UInt32.max))
        let upgrade: EventLoopFuture<UpgradeResult>
        do {
            upgrade = try await bootstrap.connect(host: endpoint.host, port: endpoint.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let progress = ConnectProgress(tls: sslContext != nil)
                    if let sslContext {
                        let name = endpoint.hostIsIPAddress ? nil : endpoint.host
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: sslContext, serverHostname: name))
                        try channel.pipeline.syncOperations.addHandler(progress)
                    }
                    let recorder = ResponseHeadRecorder()
                    let upgrader = NIOTypedWebSocketClientUpgrader<UpgradeResult>(
                        maxFrameSize: maxFrameSize,
                        upgradePipelineHandler: { channel, _ in
                            channel.eventLoop.makeCompletedFuture {
                                // Past the upgrade the recorder would see raw WebSocket bytes.
                                channel.pipeline.syncOperations.removeHandler(recorder, promise: nil)
                                if sslContext != nil {
                                    channel.pipeline.syncOperations.removeHandler(progress, promise: nil)
                                }
                                try channel.pipeline.syncOperations.addHandler(FrameArrivalCounter(received))
                                let handshake = CloseHandshake()
                                try channel.pipeline.syncOperations.addHandler(handshake)
                                if readWindow > .zero {
                                    try channel.pipeline.syncOperations.addHandler(
                                        ReadPacer(window: readWindow), position: .first)
                                }
                                return .websocket(
                                    try NIOAsyncChannel(wrappingChannelSynchronously: channel),
                                    NIOLoopBound(handshake, eventLoop: channel.eventLoop))
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
                    // Closing the channel fails the upgrade, which ends the wait below.
                    let timer = channel.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
                        expired.stage.withLock { $0 = progress.stage }
                        channel.close(promise: nil)
                    }
                    result.whenComplete { _ in timer.cancel() }
                    return result
                }
            }
        } catch ChannelError.connectTimeout(_) {
            throw WebSocketError(.connectTimeout(stage: .tcp, after: configuration.connectTimeout))
        } catch {
            throw WebSocketError(.connect("\(endpoint.host):\(endpoint.port): \(error)"))
        }
        let result: UpgradeResult
        do {
            result = try await upgrade.get()
        } catch {
            if let stage = expired.stage.withLock({ $0 }) {
                throw WebSocketError(.connectTimeout(stage: stage, after: configuration.connectTimeout))
            }
            throw WebSocketError(.connect("upgrade: \(error)"))
        }
        switch result {
        case .websocket(let channel, let handshake): return (channel, handshake)
        case .refused(let status, let retryAfter): throw WebSocketError(.http(status: status, retryAfter: retryAfter))
        }
    }
}

/// The step a connection was at when its connect deadline passed, if it passed.
final class ExpiredStage: Sendable {
    let stage = Mutex<WebSocketError.ConnectStage?>(nil)
}

/// Follows a connection through TLS to the upgrade, so that a connect timeout can say which step
/// was still waiting.
final class ConnectProgress: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer

    /// Read and written on the channel's event loop only.
    private(set) var stage: WebSocketError.ConnectStage

    init(tls: Bool) { stage = tls ? .tls : .upgrade }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent { stage = .upgrade }
        context.fireUserInboundEventTriggered(event)
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
    private let closeHandshake: NIOLoopBound<CloseHandshake>
    private let closeTimeout: Duration
    /// The peer's close frame, once it came; and whether this side has sent its own.
    private let closing = Mutex<(received: WebSocketClose?, sent: Bool)>((nil, false))

    init(
        inbound: NIOAsyncChannelInboundStream<WebSocketFrame>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<WebSocketFrame>, channel: any Channel, maxMessageSize: Int,
        received: ReceivedFrames, closeHandshake: NIOLoopBound<CloseHandshake>, closeTimeout: Duration
    ) {
        self.inbound = inbound
        self.outbound = outbound
        self.channel = channel
        self.maxMessageSize = maxMessageSize
        self.received = received
        self.closeHandshake = closeHandshake
        self.closeTimeout = closeTimeout
        self.lastActivity = Mutex(ContinuousClock().now)
    }

    /// The code and reason of the peer's close frame, once `receive()` has read one.
    public var closeReceived: WebSocketClose? { closing.withLock { $0.received } }

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
            // The reserved bits mean something only under an extension, and none is negotiated.
            guard !frame.rsv1 && !frame.rsv2 && !frame.rsv3 else {
                throw WebSocketError(.protocolViolation("reserved bit set without a negotiated extension"))
            }
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
                // A ping read from the buffer after the connection closed cannot be answered; the
                // frames after it can still be read, and the next read reports the end.
                try? await send(.pong, data: frame.unmaskedData)
            case .pong:
                break
            case .connectionClose:
                let close = try WebSocketClose(payload: frame.unmaskedData)
                closing.withLock {
                    $0.received = close
                    $0.sent = true
                }
                // The reply echoes the code (RFC 6455 §5.5.1).
                try? await send(.connectionClose, data: WebSocketClose.payload(code: close.code))
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
            // Checked on the whole message: a character may span two fragments.
            guard let s = String(validating: buffer.readableBytesView, as: UTF8.self) else {
                throw WebSocketError(.invalidText)
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

    /// Closes cleanly: sends a close frame with `code` (1000: normal closure), waits at most the
    /// configured close timeout for the peer's, and closes the connection. Reading stops. Does
    /// nothing once either side has sent its close frame.
    public func close(code: UInt16 = 1000, reason: String = "") async {
        let first = closing.withLock { state in
            defer { state.sent = true }
            return !state.sent
        }
        guard first else { return }
        let handshake = closeHandshake
        let timeout = closeTimeout.components
        let wait = TimeAmount.seconds(timeout.seconds) + .nanoseconds(timeout.attoseconds / 1_000_000_000)
        let eventLoop = channel.eventLoop
        // An event loop future, not a task: a cancelled task (shutdown) still waits for the reply.
        try? await eventLoop.flatSubmit {
            handshake.value.close(code: code, reason: reason, timeout: wait, on: eventLoop)
        }.get()
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
