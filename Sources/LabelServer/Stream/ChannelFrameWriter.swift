import NIOCore
import NIOWebSocket

/// Writes frames straight to a subscriber's channel, a batch at a time.
///
/// The framework's WebSocket writer hops to the event loop, encodes and flushes once per frame.
/// Here a backfill batch, or the frames of a commit, leave as one buffer of already-encoded
/// WebSocket frames in one hop and one flush, which is what makes a million-label backfill or
/// a thousand live subscribers affordable. The buffer enters the pipeline just below the
/// WebSocket encoder, so it is ordered with the framework's own pings and close frames.
struct ChannelFrameWriter: Sendable {
    let channel: any Channel

    /// Queues `frames` and returns once the socket has taken them: a client that reads slowly
    /// slows its own stream down, and at most one batch per subscriber waits in memory.
    func write(_ frames: [WireFrame]) async throws {
        guard !frames.isEmpty else { return }
        let channel = channel
        try await channel.eventLoop.flatSubmit { () -> EventLoopFuture<Void> in
            guard let context = try? channel.pipeline.syncOperations.context(handlerType: WebSocketFrameEncoder.self)
            else {
                // No encoder where one is expected: let the pipeline encode each frame.
                for frame in frames.dropLast() {
                    channel.write(WebSocketFrame(fin: true, opcode: .binary, data: frame.payload), promise: nil)
                }
                return channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .binary, data: frames[frames.count - 1].payload))
            }
            let buffer: ByteBuffer
            if frames.count == 1 {
                buffer = frames[0].wire
            } else {
                var joined = channel.allocator.buffer(capacity: frames.reduce(0) { $0 + $1.wire.readableBytes })
                for frame in frames { joined.writeImmutableBuffer(frame.wire) }
                buffer = joined
            }
            return context.writeAndFlush(NIOAny(buffer))
        }.get()
    }

    /// Closes the connection (failing any write still waiting).
    func close() {
        channel.close(promise: nil)
    }
}
