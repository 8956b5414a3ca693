import ATProto
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import ServiceLifecycle

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
        /// The time given to the client to close after a final error frame ran out.
        case waitedForClose
    }

    func register(on router: Router<ServerRequestContext>) {
        router.ws(
            "/xrpc/\(HTTPRoutes.subscribeLabels)",
            // The subscriber cap is checked before this (`SubscriberCapChannel`), and enforced
            // once more when the stream registers.
            shouldUpgrade: { _, _ in .upgrade([:]) },
            // Frames go out through `ChannelFrameWriter`, not the framework's per-frame writer.
            onUpgrade: { inbound, _, context in
                await serve(
                    inbound: inbound, request: context.request,
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
        inbound: WebSocketInboundStream, request: Request, channel: any Channel,
        logger: Logger
    ) async {
        let writer = ChannelFrameWriter(channel: channel)
        let cursor: Int64?
        switch Self.cursor(request.uri.queryParameters["cursor"]) {
        case .none: cursor = nil
        case .after(let seq): cursor = seq
        case .malformed:
            await sendFinal(
                ErrorMessage(error: "InvalidRequest", message: "cursor must be a non-negative integer"),
                writer: writer)
            await awaitClientClose(inbound)
            return
        }
        guard let subscription = broadcaster.subscribe() else {
            // Another connection took the last place between the check and the upgrade.
            await sendFinal(
                ErrorMessage(error: "ServiceUnavailable", message: "Too many subscribers; try again later."),
                writer: writer)
            await awaitClientClose(inbound)
            return
        }
        defer { broadcaster.unsubscribe(subscription) }
        let stream = LabelStream(broadcaster: broadcaster)
        // On the server's graceful shutdown the subscription ends at once (what was committed is
        // stored; the client resumes from its cursor). Waiting for the client instead would let
        // one that never answers the close frame hold the shutdown for good: the WebSocket
        // handler's close timeout only starts once this handler returns.
        let completion = await withGracefulShutdownHandler {
            await serve(subscription, stream: stream, cursor: cursor, inbound: inbound, writer: writer, logger: logger)
        } onGracefulShutdown: {
            subscription.end(.shutdown)
        }
        if case .failed(let why) = completion {
            logger.debug("subscriber connection failed", metadata: ["error": "\(why)"])
        }
    }

    /// Streams to one subscriber until the client closes, the stream ends or fails.
    private func serve(
        _ subscription: Subscription, stream: LabelStream, cursor: Int64?, inbound: WebSocketInboundStream,
        writer: ChannelFrameWriter, logger: Logger
    ) async -> Completion {
        await withTaskGroup(of: Completion.self) { group in
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
                    return .stream(try await stream.run(subscription, cursor: cursor, send: writer.write))
                } catch {
                    return .failed("\(error)")
                }
            }
            // Learns at once that the broadcaster dropped the subscriber, even while a write to
            // it is blocked.
            group.addTask { .stream(.ended(await subscription.ended())) }
            let first = await group.next() ?? .clientClosed
            subscription.end(.closed)
            // Said while the other tasks may still be blocked on the client: the error frame is
            // queued behind the frames already written, and the connection is closed if the client
            // does not take it in time, which also releases a blocked write.
            switch first {
            case .stream(.error(let error)):
                await sendFinal(error, writer: writer)
                // As after an error frame sent right after the upgrade (`awaitClientClose`): the
                // client closes first, within `finalFrameTimeout`, so that it does not lose the
                // frame to an early close. The reader task sees its close.
                let timeout = finalFrameTimeout
                group.addTask {
                    try? await Task.sleep(for: timeout)
                    return .waitedForClose
                }
                while let next = await group.next() {
                    if case .clientClosed = next { break }
                    if case .waitedForClose = next { break }
                }
            case .stream(.ended(.tooSlow)):
                logger.info("dropping a slow subscriber")
                await sendFinal(
                    ErrorMessage(error: "ConsumerTooSlow", message: "Subscriber fell too far behind."), writer: writer)
            case .stream(.ended), .clientClosed, .failed, .waitedForClose:
                break
            }
            group.cancelAll()
            return first
        }
    }

    /// After an error frame sent right after the upgrade: lets the client close first (for at
    /// most `finalFrameTimeout`). Closing at once can reach a client while it is still finishing
    /// its side of the upgrade, and some clients then lose the frame that came with the close.
    private func awaitClientClose(_ inbound: WebSocketInboundStream) async {
        let timeout = finalFrameTimeout
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    for try await _ in inbound.messages(maxSize: 1 << 16) {}
                } catch {}
            }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    /// Sends an error frame; closes the connection when the client has not taken it within
    /// `finalFrameTimeout` (otherwise the WebSocket close handshake follows).
    private func sendFinal(_ error: ErrorMessage, writer: ChannelFrameWriter) async {
        let frame = WireFrame(payload: FrameCodec.encodeError(error))
        let timeout = finalFrameTimeout
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                do {
                    try await writer.write([frame.wire])
                    return true
                } catch {
                    return false
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            if await group.next() != true { writer.close() }
            group.cancelAll()
        }
    }
}
