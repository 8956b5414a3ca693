import NIOCore
import NIOWebSocket

/// Writes label frames straight to a subscriber's channel, a batch at a time.
///
/// The WebSocket writer of the framework hops to the event loop and flushes once per frame; a
/// backfill batch or a commit's frames go out here in one hop and one flush, which is what
/// makes a million-label backfill or a thousand live subscribers affordable. Writes still pass
/// through the WebSocket encoder of the pipeline, so they interleave safely with the framework's
/// own pings and close frames.
struct ChannelFrameWriter: Sendable {
    let channel: any Channel

    /// Queues `frames` as binary messages and returns once the socket has taken the last of them:
    /// a client that reads slowly slows its own stream down, and at most one batch per subscriber
    /// waits in memory.
    func write(_ frames: [ByteBuffer]) async throws {
        guard !frames.isEmpty else { return }
        let channel = channel
        try await channel.eventLoop.flatSubmit { () -> EventLoopFuture<Void> in
            for frame in frames.dropLast() {
                channel.write(WebSocketFrame(fin: true, opcode: .binary, data: frame), promise: nil)
            }
            return channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .binary, data: frames[frames.count - 1]))
        }.get()
    }

    /// Closes the connection (failing any write still waiting).
    func close() {
        channel.close(promise: nil)
    }
}
