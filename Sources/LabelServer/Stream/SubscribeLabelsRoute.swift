import ATProto
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore

/// `GET /xrpc/com.atproto.label.subscribeLabels` over WebSocket.
struct SubscribeLabelsRoute: Sendable {
    let broadcaster: Broadcaster
    /// How long a final error frame may take to go out before the connection is closed anyway.
    let finalFrameTimeout: Duration

    /// How one connection ended.
    private enum Completion: Sendable {
        case stream(LabelStream.Outcome)
        case clientClosed
        case failed(String)
    }

    func register(on router: Router<ServerRequestContext>) {
        router.ws(
            "/xrpc/\(HTTPRoutes.subscribeLabels)",
            // The subscriber cap is checked before this (`SubscriberCapChannel`), and enforced
            // once more when the stream registers.
            shouldUpgrade: { _, _ in .upgrade([:]) },
            onUpgrade: { inbound, outbound, context in
                await serve(
                    inbound: inbound, outbound: outbound, request: context.request,
                    channel: context.requestContext.channel, logger: context.logger)
            })
    }

    /// The `cursor` parameter as given.
    enum Cursor: Equatable {
        /// Absent: live only.
        case none
        /// Replay the rows after this seq first.
        case after(Int64)
        /// Not a non-negative integer.
        case malformed
    }

    static func cursor(_ text: Substring?) -> Cursor {
        guard let text else { return .none }
        guard let cursor = Int64(text), cursor >= 0 else { return .malformed }
        return .after(cursor)
    }

    private func serve(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, request: Request, channel: any Channel,
        logger: Logger
    ) async {
        let cursor: Int64?
        switch Self.cursor(request.uri.queryParameters["cursor"]) {
        case .none: cursor = nil
        case .after(let seq): cursor = seq
        case .malformed:
            await sendFinal(
                ErrorMessage(error: "InvalidRequest", message: "cursor must be a non-negative integer"),
                outbound: outbound, channel: channel)
            return
        }
        guard let subscription = broadcaster.subscribe() else {
            // Another connection took the last place between the check and the upgrade.
            await sendFinal(
                ErrorMessage(error: "ServiceUnavailable", message: "Too many subscribers; try again later."),
                outbound: outbound, channel: channel)
            return
        }
        defer { broadcaster.unsubscribe(subscription) }
        let stream = LabelStream(broadcaster: broadcaster)
        let completion = await withTaskGroup(of: Completion.self) { group in
            // Reading is what answers the client's pings and takes its pongs (a client that stops
            // answering is closed by the ping timer); what it sends is otherwise ignored.
            group.addTask {
                do {
                    for try await _ in inbound.messages(maxSize: 1 << 16) {}
                } catch {}
                return .clientClosed
            }
            group.addTask {
                do {
                    return .stream(
                        try await stream.run(subscription, cursor: cursor) { frame in
                            try await outbound.write(.binary(frame))
                        })
                } catch {
                    return .failed("\(error)")
                }
            }
            // A subscriber dropped while a write to it is blocked is interrupted from here.
            group.addTask { .stream(.ended(await subscription.ended())) }
            let first = await group.next() ?? .clientClosed
            subscription.end(.closed)
            group.cancelAll()
            return first
        }
        switch completion {
        case .stream(.error(let error)):
            await sendFinal(error, outbound: outbound, channel: channel)
        case .stream(.ended(.tooSlow)):
            logger.info("dropping a slow subscriber")
            await sendFinal(
                ErrorMessage(error: "ConsumerTooSlow", message: "Subscriber fell too far behind."), outbound: outbound,
                channel: channel)
        case .stream(.ended(.shutdown)), .stream(.ended(.closed)), .clientClosed:
            break
        case .failed(let why):
            logger.debug("subscriber connection failed", metadata: ["error": "\(why)"])
        }
    }

    /// Sends an error frame and makes sure the connection closes soon after, even when the client
    /// reads nothing (the WebSocket close handshake alone would wait on it).
    private func sendFinal(_ error: ErrorMessage, outbound: WebSocketOutboundWriter, channel: any Channel) async {
        let frame = ByteBuffer(bytes: FrameCodec.encodeError(error))
        let timeout = finalFrameTimeout
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await outbound.write(.binary(frame)) }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
        let nanoseconds = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
        channel.eventLoop.scheduleTask(in: .nanoseconds(nanoseconds)) { channel.close(promise: nil) }
    }
}
