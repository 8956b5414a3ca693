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

    /// The pipeline has no WebSocket encoder to write below.
    struct NoWebSocketEncoder: Error {}

    /// Queues `frames` (encoded WebSocket frames, each buffer holding one or more) and returns
    /// once the socket has taken them: a client that reads slowly slows its own stream down, and
    /// at most one batch per subscriber waits in memory.
    func write(_ frames: [ByteBuffer]) async throws {
        guard !frames.isEmpty else { return }
        let channel = channel
        try await channel.eventLoop.flatSubmit { () -> EventLoopFuture<Void> in
            guard let context = try? channel.pipeline.syncOperations.context(handlerType: WebSocketFrameEncoder.self)
            else {
                return channel.eventLoop.makeFailedFuture(NoWebSocketEncoder())
            }
            let buffer: ByteBuffer
            if frames.count == 1 {
                buffer = frames[0]
            } else {
                var joined = channel.allocator.buffer(capacity: frames.reduce(0) { $0 + $1.readableBytes })
                for frame in frames { joined.writeImmutableBuffer(frame) }
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
