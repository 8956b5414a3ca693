import NIOCore
import NIOWebSocket

/// The status a peer gave when it closed a WebSocket (RFC 6455 §5.5.1, §7.4): why a relay ended
/// the connection (`1001` going away, `1008` policy violation, `1013` try again later, …) is
/// what an operator needs to know before anything else.
public struct WebSocketClose: Sendable, Equatable, CustomStringConvertible {
    /// The status code; nil when the frame carried none (reported as 1005 by convention).
    public var code: UInt16?
    /// The reason text (may be empty).
    public var reason: String

    public init(code: UInt16?, reason: String = "") {
        self.code = code
        self.reason = reason
    }

    /// The code counted for a close without one: 1005, "no status received".
    public static let noStatus: UInt16 = 1005

    /// Reads a close frame's payload: empty, or a two-byte code followed by UTF-8 text.
    /// - Throws: `.protocolViolation` for a one-byte payload, a code that may not be sent, or a
    ///   reason that is not UTF-8.
    init(payload: ByteBuffer) throws(WebSocketError) {
        var payload = payload
        guard payload.readableBytes > 0 else {
            self.init(code: nil)
            return
        }
        guard let code = payload.readInteger(as: UInt16.self) else {
            throw WebSocketError(.protocolViolation("close frame with a one-byte payload"))
        }
        guard Self.maySend(code) else {
            throw WebSocketError(.protocolViolation("close frame with code \(code), which may not be sent"))
        }
        guard let reason = String(validating: payload.readableBytesView, as: UTF8.self) else {
            throw WebSocketError(.protocolViolation("close reason is not UTF-8"))
        }
        self.init(code: code, reason: reason)
    }

    /// Whether an endpoint may put `code` in a close frame: the defined codes except those
    /// reserved for reporting (1005, 1006, 1015), and the registered and private ranges.
    static func maySend(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1014, 3000...4999: true
        default: false
        }
    }

    /// The payload of a close frame carrying `code` and `reason`.
    static func payload(code: UInt16?, reason: String = "") -> ByteBuffer {
        var buffer = ByteBuffer()
        guard let code else { return buffer }
        buffer.writeInteger(code)
        // A control frame carries at most 125 bytes; the reason is only for people, and is cut
        // between characters so that it stays UTF-8.
        var length = 0
        for character in reason {
            guard length + character.utf8.count <= 123 else { break }
            length += character.utf8.count
        }
        buffer.writeBytes(reason.utf8.prefix(length))
        return buffer
    }

    /// The code's registered name, when it has one.
    public var name: String? {
        switch code ?? Self.noStatus {
        case 1000: "normal closure"
        case 1001: "going away"
        case 1002: "protocol error"
        case 1003: "unsupported data"
        case 1005: "no status"
        case 1007: "invalid payload data"
        case 1008: "policy violation"
        case 1009: "message too big"
        case 1010: "mandatory extension"
        case 1011: "internal error"
        case 1012: "service restart"
        case 1013: "try again later"
        case 1014: "bad gateway"
        default: nil
        }
    }

    public var description: String {
        let code = code ?? Self.noStatus
        return "\(code)" + (name.map { " (\($0))" } ?? "") + (reason.isEmpty ? "" : ": \(reason)")
    }
}

/// Closes a WebSocket the way RFC 6455 §7 asks: the side that starts the close sends a close
/// frame and waits for the peer's before it drops the TCP connection, so the peer learns that
/// the end is deliberate (and why) rather than seeing a reset.
///
/// It sits just before the session's stream in the pipeline. While the session reads, frames pass
/// through and it only notes whether the peer sent a close. Once the session stops reading
/// (shutdown, a consumer that has enough, a protocol error) nobody takes frames from the stream
/// any more, and its buffer filling up would stop socket reads before the peer's reply arrives:
/// so from then on this handler drops every frame, keeps reading, and reports the reply.
final class CloseHandshake: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private var context: ChannelHandlerContext?
    /// Whether the peer has sent its close frame.
    private var peerClosed = false
    /// Set once this side started the close: completed by the peer's close frame or the end of the
    /// connection.
    private var finished: EventLoopPromise<Void>?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        finished?.succeed()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if unwrapInboundIn(data).opcode == .connectionClose {
            peerClosed = true
            finished?.succeed()
        }
        // Once the session has stopped reading, nothing downstream takes frames any more.
        if finished == nil { context.fireChannelRead(data) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if finished != nil { context.read() }
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        finished?.succeed()
        context.fireChannelInactive()
    }

    /// Sends a close frame with `code` and waits for the peer's, at most `timeout`; then (or when
    /// the peer's close came already) the connection is closed. Call on the channel's event loop.
    func close(code: UInt16, reason: String, timeout: TimeAmount, on eventLoop: any EventLoop) -> EventLoopFuture<Void>
    {
        guard let context, finished == nil else { return eventLoop.makeSucceededVoidFuture() }
        let finished = eventLoop.makePromise(of: Void.self)
        self.finished = finished
        let frame = WebSocketFrame(
            fin: true, opcode: .connectionClose, maskKey: .random(),
            data: WebSocketClose.payload(code: code, reason: reason))
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
        if peerClosed {
            finished.succeed()
        } else {
            context.read()
            let timer = eventLoop.assumeIsolated().scheduleTask(in: timeout) { finished.succeed() }
            finished.futureResult.whenComplete { _ in timer.cancel() }
        }
        let channel = context.channel
        return finished.futureResult.flatMap { channel.close() }.recover { _ in }
    }
}
