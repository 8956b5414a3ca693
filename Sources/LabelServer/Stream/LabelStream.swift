import ATProto
import LabelStore
import NIOCore

/// What one `subscribeLabels` connection sends: the backfill after its cursor, then live frames,
/// with no gap and no repeat at the cut-over.
///
/// The subscriber is registered for wake-ups before the head is read, and every read asks for
/// rows strictly after the last seq sent. A commit that lands during the backfill is therefore
/// either read by the backfill or announced by a wake-up afterwards (or both, and then the second
/// read finds nothing new): never lost, never sent twice.
struct LabelStream: Sendable {
    let broadcaster: Broadcaster

    /// Why a stream stopped without an error of the connection itself.
    enum Outcome: Sendable, Equatable {
        /// Send this error frame, then close (`FutureCursor`).
        case error(ErrorMessage)
        /// The broadcaster ended the subscription.
        case ended(Subscription.End)
    }

    /// Streams to `send` until the subscription ends. `subscription` must already be registered.
    ///
    /// - Parameters:
    ///   - cursor: replay rows after this seq first; nil starts at the head (live only).
    ///   - send: writes encoded WebSocket frames (each buffer holds one or more), in order, and
    ///     returns once the connection has taken them (so a client that reads slowly holds back
    ///     the reads from the store).
    /// - Throws: when `send` throws (the connection broke) or the store cannot be read.
    func run(
        _ subscription: Subscription, cursor: Int64?, send: ([ByteBuffer]) async throws -> Void
    ) async throws -> Outcome {
        let batchSize = broadcaster.limits.batchSize
        let head = try broadcaster.store.lastLabelSeq()
        var last = head
        if let cursor {
            guard cursor <= head else {
                return .error(ErrorMessage(error: "FutureCursor", message: "Cursor in the future."))
            }
            last = cursor
        }
        subscription.sent(upTo: last)
        var live = false
        while true {
            // Take everything after `last`, a batch at a time, so a long backfill never sits in
            // memory at once.
            while true {
                try Task.checkCancellation()
                // A subscriber that was at the previous round's head takes the round's frames as
                // one shared buffer.
                if let segment = broadcaster.segment(after: last) {
                    try await send([segment.bytes])
                    last = segment.through
                    subscription.sent(upTo: last)
                    broadcaster.counters.framesSent.add(segment.count, ordering: .relaxed)
                    continue
                }
                let frames = try broadcaster.frames(after: last, limit: batchSize)
                if let newest = frames.last {
                    try await send(frames.map(\.frame.wire))
                    last = newest.seq
                    subscription.sent(upTo: last)
                    broadcaster.counters.framesSent.add(frames.count, ordering: .relaxed)
                }
                if frames.count < batchSize { break }
            }
            if !live {
                subscription.goLive()
                live = true
            }
            if let end = await subscription.nextWakeUp() { return .ended(end) }
        }
    }
}
