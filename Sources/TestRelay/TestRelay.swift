import ATProto
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
import Synchronization

/// An in-process `subscribeRepos` relay on 127.0.0.1 for tests: it serves a fixed list of messages
/// after the requested cursor and injects the faults real relays show.
public final class TestRelay: Sendable {
    /// Faults to inject. Counters are per relay (across connections) unless noted.
    public struct Faults: Sendable {
        /// Close the connection abruptly after this many messages on each connection.
        public var dropAfter: Int?
        /// Replace every n-th message sent (counted across connections) with a corrupt frame.
        public var corruptEvery: Int?
        /// Answer a cursor above the last seq with the `FutureCursor` error frame, then close.
        public var futureCursorErrors = true
        /// When the cursor is below the first seq (and not 0), send `#info OutdatedCursor` first.
        public var outdatedCursorInfo = true
        /// After this many messages on the first connection, stop sending and stop answering pings.
        public var silenceAfter: Int?
        /// Refuse the first connections with these HTTP statuses (and `Retry-After` seconds).
        public var refusals: [(status: Int, retryAfter: Int?)] = []
        /// Refuse every connection with this status (e.g. 501).
        public var alwaysRefuse: Int?
        /// Send an unsolicited pong (a heartbeat, RFC 6455 §5.5.3) after every n-th message, so
        /// that control frames sit between and after messages.
        public var pongEvery: Int?
        /// Accept connections and then say nothing at the given step.
        public var stall: Stall?
        /// Send every message in this many fragments (fewer when it is shorter), with a ping
        /// between each two; the client must answer each ping (see `pongsReceived`).
        public var fragments: Int?
        /// After this many messages on each connection, send a close frame with `closeCode` and
        /// `closeReason`, wait for the client's reply and close.
        public var closeAfter: Int?
        public var closeCode: UInt16 = 1001
        public var closeReason = "going away"
        /// Send the n-th message (counted across connections, from 1) as a text frame whose
        /// bytes are not UTF-8.
        public var invalidTextAt: Int?
        /// Send the n-th message (counted across connections, from 1) with the RSV1 bit set,
        /// which means nothing without a negotiated extension.
        public var reservedBitAt: Int?

        public init() {}
    }

    /// Where a stalled connection stops answering.
    public enum Stall: Sendable {
        /// Never answers the TLS ClientHello (on a relay with TLS; on one without, the request).
        case tlsHandshake
        /// Completes TLS, if any, then never answers the HTTP upgrade request.
        case upgrade
    }

    /// A close frame the client sent.
    public struct ClientClose: Sendable, Equatable {
        public var code: UInt16?
        public var reason: String
    }

    struct State {
        var connections = 0
        var sent = 0
        var cursors: [Int64?] = []
        var refusalsLeft: [(status: Int, retryAfter: Int?)]
        var silenced = false
        var pingsSent = 0
        var pongsReceived = 0
        var clientCloses: [ClientClose] = []
        /// Connections left stalled, closed by `stop()`.
        var stalled: [any Channel] = []
    }

    /// A message to serve: its seq (nil for frames without one, such as `#info`), its bytes, and
    /// whether it goes out as a text frame (Jetstream JSON) rather than binary.
    public struct Frame: Sendable {
        public var seq: Int64?
        public var bytes: [UInt8]
        public var text: Bool

        public init(seq: Int64?, bytes: [UInt8], text: Bool = false) {
            self.seq = seq
            self.bytes = bytes
            self.text = text
        }
    }

    let messages: [Frame]
    let faults: Faults
    let secure: Bool
    private let state: Locked<State>
    private let serverChannel: NIOAsyncChannel<EventLoopFuture<Upgrade>, Never>
    public let port: Int
    private let serveTask = Locked<Task<Void, Never>?>(nil)

    enum Upgrade: Sendable {
        case websocket(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, uri: String)
        case refused
    }

    /// Starts serving `messages` (relay WebSocket binary messages in stream order).
    /// - Parameter tls: serve `wss://` with this configuration (its certificate must name
    ///   `localhost`).
    public convenience init(messages: [[UInt8]], faults: Faults = Faults(), tls: TLSConfiguration? = nil)
        async throws
    {
        try await self.init(
            frames: messages.map { Frame(seq: RelayMessage.seq(of: $0), bytes: $0) }, faults: faults, tls: tls)
    }

    /// Starts serving `frames` in order; a connection's `cursor` selects those with a larger seq.
    public init(frames: [Frame], faults: Faults = Faults(), tls: TLSConfiguration? = nil) async throws {
        self.messages = frames
        self.faults = faults
        self.secure = tls != nil
        let state = Locked(State(refusalsLeft: faults.refusals))
        self.state = state
        let alwaysRefuse = faults.alwaysRefuse
        let stall = faults.stall
        let sslContext = try tls.map { try NIOSSLContext(configuration: $0) }
        serverChannel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let refusal: (status: Int, retryAfter: Int?)? = state.withLock { s in
                        s.connections += 1
                        if stall != nil { s.stalled.append(channel) }
                        if let alwaysRefuse { return (alwaysRefuse, nil) }
                        return s.refusalsLeft.isEmpty ? nil : s.refusalsLeft.removeFirst()
                    }
                    if let sslContext, stall != .tlsHandshake {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
                    }
                    if stall != nil {
                        // Read what comes (so a client's leaving is noticed) and answer nothing.
                        let never = channel.eventLoop.makePromise(of: Upgrade.self)
                        channel.closeFuture.whenComplete { _ in never.succeed(.refused) }
                        return never.futureResult
                    }
                    let upgrader = NIOTypedWebSocketServerUpgrader<Upgrade>(
                        maxFrameSize: 1 << 24,
                        shouldUpgrade: { channel, _ in
                            channel.eventLoop.makeSucceededFuture(refusal == nil ? HTTPHeaders() : nil)
                        },
                        upgradePipelineHandler: { channel, head in
                            channel.eventLoop.makeCompletedFuture {
                                .websocket(try NIOAsyncChannel(wrappingChannelSynchronously: channel), uri: head.uri)
                            }
                        })
                    let configuration = NIOTypedHTTPServerUpgradeConfiguration<Upgrade>(
                        upgraders: [upgrader],
                        notUpgradingCompletionHandler: { channel in
                            channel.eventLoop.makeCompletedFuture {
                                try channel.pipeline.syncOperations.addHandler(
                                    HTTPRefusal(status: refusal?.status ?? 400, retryAfter: refusal?.retryAfter))
                                return .refused
                            }
                        })
                    return try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(
                        configuration: .init(upgradeConfiguration: configuration))
                }
            }
        port = serverChannel.channel.localAddress?.port ?? 0
        let channel = serverChannel
        let task = Task { [self] () -> Void in
            _ = try? await channel.executeThenClose { inbound in
                await withDiscardingTaskGroup { group in
                    do {
                        for try await upgrade in inbound {
                            group.addTask { await self.serve(upgrade) }
                        }
                    } catch {}
                    // The listening socket closed (`stop()`) and every connection it accepted has a
                    // task: end them, parked ones included (the silence fault).
                    group.cancelAll()
                }
            }
        }
        serveTask.withLock { $0 = task }
    }

    /// `ws://127.0.0.1:PORT`, or `wss://localhost:PORT` with TLS (the name a certificate can carry).
    public var url: String { secure ? "wss://localhost:\(port)" : "ws://127.0.0.1:\(port)" }

    public var connections: Int { state.withLock { $0.connections } }

    /// Pings sent between fragments, and the pongs that answered them.
    public var pingsSent: Int { state.withLock { $0.pingsSent } }
    public var pongsReceived: Int { state.withLock { $0.pongsReceived } }

    /// The close frames clients sent, in order.
    public var clientCloses: [ClientClose] { state.withLock { $0.clientCloses } }

    /// The cursor each WebSocket connection asked for (nil: none).
    public var requestedCursors: [Int64?] { state.withLock { $0.cursors } }

    /// Stops listening and ends every connection. The accepting loop is not cancelled: it ends
    /// when the listening socket's stream does, after handing every connection accepted to a task,
    /// since a connection left unread in that stream would never be closed (NIO traps on it,
    /// apple/swift-nio#2637). Cancelling stays the fallback should that take more than 10 s.
    public func stop() async {
        try? await serverChannel.channel.close()
        for channel in state.withLock({ $0.stalled }) { try? await channel.close() }
        guard let task = serveTask.withLock({ $0 }) else { return }
        let watchdog = Task {
            try await Task.sleep(for: .seconds(10))
            task.cancel()
        }
        await task.value
        watchdog.cancel()
    }

    private func serve(_ upgrade: EventLoopFuture<Upgrade>) async {
        guard case .websocket(let channel, let uri)? = try? await upgrade.get() else { return }
        let cursor = Self.cursor(in: uri)
        state.withLock { $0.cursors.append(cursor) }
        try? await channel.executeThenClose { inbound, outbound in
            try await self.stream(cursor: cursor, inbound: inbound, outbound: outbound, channel: channel.channel)
        }
    }

    /// Sends the messages after `cursor` while another task reads what the client sends: it
    /// answers pings (unless the connection went silent), counts pongs, and answers a close frame,
    /// which ends the connection.
    private func stream(
        cursor: Int64?, inbound: NIOAsyncChannelInboundStream<WebSocketFrame>,
        outbound: NIOAsyncChannelOutboundWriter<WebSocketFrame>, channel: any Channel
    ) async throws {
        let silenced = Locked(false)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await self.sendMessages(cursor: cursor, outbound: outbound, channel: channel, silenced: silenced)
                // Stay connected like a live relay with nothing new, until the client leaves.
                try await Task.sleep(for: .seconds(3600))
            }
            defer { group.cancelAll() }
            for try await frame in inbound {
                switch frame.opcode {
                case .ping:
                    guard !silenced.withLock({ $0 }) else { continue }
                    try await outbound.write(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData))
                case .pong:
                    state.withLock { $0.pongsReceived += 1 }
                case .connectionClose:
                    var data = frame.unmaskedData
                    let code = data.readInteger(as: UInt16.self)
                    let reason = data.readString(length: data.readableBytes) ?? ""
                    state.withLock { $0.clientCloses.append(ClientClose(code: code, reason: reason)) }
                    // A silent relay does not answer this either: the client stops waiting.
                    guard !silenced.withLock({ $0 }) else { continue }
                    try? await outbound.write(
                        WebSocketFrame(fin: true, opcode: .connectionClose, data: frame.unmaskedData))
                    return
                default: break
                }
            }
        }
    }

    private func sendMessages(
        cursor: Int64?, outbound: NIOAsyncChannelOutboundWriter<WebSocketFrame>, channel: any Channel,
        silenced: Locked<Bool>
    ) async throws {
        func send(_ bytes: [UInt8], text: Bool = false, reservedBit: Bool = false) async throws {
            let opcode: WebSocketOpcode = text ? .text : .binary
            guard let fragments = faults.fragments, fragments > 1, bytes.count > 1 else {
                try await outbound.write(
                    WebSocketFrame(fin: true, rsv1: reservedBit, opcode: opcode, data: ByteBuffer(bytes: bytes)))
                return
            }
            let size = (bytes.count + fragments - 1) / fragments
            var start = 0
            while start < bytes.count {
                let end = min(start + size, bytes.count)
                if start > 0 {
                    state.withLock { $0.pingsSent += 1 }
                    try await outbound.write(
                        WebSocketFrame(fin: true, opcode: .ping, data: ByteBuffer(string: "\(start)")))
                }
                try await outbound.write(
                    WebSocketFrame(
                        fin: end == bytes.count, rsv1: reservedBit && start == 0,
                        opcode: start == 0 ? opcode : .continuation, data: ByteBuffer(bytes: bytes[start..<end])))
                start = end
            }
        }
        let seqs = messages.compactMap(\.seq)
        var start = 0
        if let cursor {
            if let last = seqs.last, cursor > last, faults.futureCursorErrors {
                try await send(
                    FrameCodec.encodeError(ErrorMessage(error: "FutureCursor", message: "Cursor in the future.")))
                // Closing at once could discard the frame before it is flushed; the client closes
                // after reading it.
                return
            }
            if let first = seqs.first, cursor > 0, cursor < first - 1, faults.outdatedCursorInfo {
                try await send(
                    FrameCodec.encodeInfo(
                        InfoMessage(
                            name: "OutdatedCursor", message: "Requested cursor exceeded limit. Possibly missing events")
                    ))
            }
            start = messages.firstIndex(where: { ($0.seq ?? Int64.min) > cursor }) ?? messages.count
        }
        var sentHere = 0
        let firstConnection = state.withLock { $0.cursors.count == 1 }
        for message in messages[start...] {
            if cursor != nil && message.seq == nil { continue }  // #info frames only at the very start
            if let dropAfter = faults.dropAfter, sentHere >= dropAfter {
                try await channel.close()
                return
            }
            if let closeAfter = faults.closeAfter, sentHere >= closeAfter {
                var payload = ByteBuffer()
                payload.writeInteger(faults.closeCode)
                payload.writeString(faults.closeReason)
                try await outbound.write(WebSocketFrame(fin: true, opcode: .connectionClose, data: payload))
                // The reader ends the connection when the client's reply comes.
                return
            }
            if let silenceAfter = faults.silenceAfter, firstConnection, sentHere >= silenceAfter {
                state.withLock { $0.silenced = true }
                silenced.withLock { $0 = true }
                // Say nothing, answer nothing: the client must notice and reconnect.
                try await Task.sleep(for: .seconds(3600))
            }
            let n = state.withLock { s in
                s.sent += 1
                return s.sent
            }
            if let every = faults.corruptEvery, n % every == 0 {
                var corrupt = Array(message.bytes.prefix(max(1, message.bytes.count / 2)))
                if n % (2 * every) == 0 { for i in 0..<min(6, corrupt.count) { corrupt[i] ^= 0xff } }
                try await send(corrupt)
            } else if n == faults.invalidTextAt {
                // A lone continuation byte and a truncated sequence: not UTF-8.
                try await send([0x7b, 0x80, 0x22, 0xe2, 0x82], text: true)
            } else {
                try await send(message.bytes, text: message.text, reservedBit: n == faults.reservedBitAt)
            }
            sentHere += 1
            if let every = faults.pongEvery, sentHere % every == 0 {
                try await outbound.write(
                    WebSocketFrame(fin: true, opcode: .pong, data: ByteBuffer(string: "heartbeat")))
            }
        }
    }

    static func cursor(in uri: String) -> Int64? {
        guard let q = uri.firstIndex(of: "?") else { return nil }
        for pair in uri[uri.index(after: q)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2, parts[0] == "cursor" { return Int64(parts[1]) }
        }
        return nil
    }
}

enum RelayMessage {
    static func seq(of message: [UInt8]) -> Int64? {
        guard let (_, body) = try? FrameCodec.split(message[...]) else { return nil }
        return body["seq"]?.intValue
    }
}

/// Answers a refused upgrade with an HTTP status and an XRPC error body, then closes.
final class HTTPRefusal: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let status: Int
    let retryAfter: Int?

    init(status: Int, retryAfter: Int?) {
        self.status = status
        self.retryAfter = retryAfter
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = unwrapInboundIn(data) else { return }
        let body = #"{"error":"Refused","message":"test relay refused the connection"}"#
        var headers = HTTPHeaders([("Content-Type", "application/json"), ("Content-Length", "\(body.utf8.count)")])
        if let retryAfter { headers.add(name: "Retry-After", value: "\(retryAfter)") }
        let head = HTTPResponseHead(version: .http1_1, status: .init(statusCode: status), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}

/// A mutex that can be shared by reference (captured by escaping closures).
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
}
