import ATProto
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1

/// The HTTP/1 + WebSocket server channel with the subscriber cap in front of the upgrade.
///
/// Hummingbird answers every refused upgrade with a bare 400, but a client turned away for
/// capacity must get a 503 it can retry after, with an XRPC error body. So the first request of
/// each connection passes a handler that answers that 503 itself when `subscribeLabels` is full;
/// everything else goes through untouched.
struct SubscriberCapChannel: ServerChildChannel {
    typealias Value = HTTP1WebSocketUpgradeChannel.Value

    let base: HTTP1WebSocketUpgradeChannel
    let path: String
    let hasRoom: @Sendable () -> Bool

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        // The base configures the pipeline synchronously on the channel's loop; the handler goes
        // right after the request decoder, ahead of the upgrade handler.
        base.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let decoder = try channel.pipeline.syncOperations.handler(
                type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try channel.pipeline.syncOperations.addHandler(
                SubscriberCapHandler(path: path, hasRoom: hasRoom), position: .after(decoder))
            return value
        }
    }

    /// The base first waits for the connection's first request head on a future that
    /// cancellation does not reach: a connection opened and never used (a client's pooled spare,
    /// a preconnect, a port scan) would keep the server from stopping. Cancelled, the input is
    /// closed, which ends that wait (and, past it, the request or WebSocket stream) as a client's
    /// close would.
    func handle(value: Value, logger: Logger) async {
        await withTaskCancellationHandler {
            await base.handle(value: value, logger: logger)
        } onCancel: {
            value.channel.close(mode: .input, promise: nil)
        }
    }
}

/// Answers 503 to a `subscribeLabels` upgrade when no place is free; looks at nothing after the
/// first request head of its connection.
final class SubscriberCapHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let path: String
    private let hasRoom: @Sendable () -> Bool
    private var decided = false
    private var refusing = false

    init(path: String, hasRoom: @escaping @Sendable () -> Bool) {
        self.path = path
        self.hasRoom = hasRoom
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if refusing { return }
        // After the first head this handler only forwards: past an upgrade the bytes are raw
        // WebSocket data, which must not be unwrapped as HTTP.
        guard !decided else {
            context.fireChannelRead(data)
            return
        }
        decided = true
        guard case .head(let head) = unwrapInboundIn(data), isSubscribeUpgrade(head), !hasRoom() else {
            context.fireChannelRead(data)
            return
        }
        refusing = true
        let body = ByteBuffer(
            string: #"{"error":"ServiceUnavailable","message":"Too many subscribers; try again later."}"#)
        let headers = HTTPHeaders([
            ("Content-Type", "application/json; charset=utf-8"), ("Content-Length", String(body.readableBytes)),
            ("Retry-After", "30"), ("Connection", "close"),
        ])
        context.write(
            wrapOutboundOut(
                .head(HTTPResponseHead(version: head.version, status: .serviceUnavailable, headers: headers))),
            promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in loopBound.value.close(promise: nil) }
    }

    /// A graceful shutdown asks every connection to finish. Hummingbird's handler that answers
    /// that joins the pipeline only with the first request, so a connection that has not sent
    /// one yet is closed here; later the event passes on to it.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent, !decided {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func isSubscribeUpgrade(_ head: HTTPRequestHead) -> Bool {
        let target = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        return target == path && head.headers[canonicalForm: "upgrade"].contains { $0.lowercased() == "websocket" }
    }
}
