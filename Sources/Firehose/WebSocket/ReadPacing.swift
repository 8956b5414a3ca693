import NIOCore
import NIOWebSocket
import Synchronization

/// Spaces socket reads at least `window` apart while the stream is light, so that a stream of
/// small messages wakes the process once per window for all that arrived, not once per message.
///
/// A relay sends each event as its own WebSocket message, and at the network's usual rates (a
/// few hundred to a few thousand a second) each arrives alone: reading as data arrives costs a
/// wake-up of the event loop, of the task that reads the session, and of a worker, for every
/// event, which is most of what a live event costs. Held reads let the kernel gather the
/// messages of one window in the socket buffer; one read then takes them all, and they travel
/// on as one batch. A read that brought at least `busyBytes` is followed by the next at once, so
/// a backlog (catching up from a cursor) is read at full speed.
///
/// It sits first in the pipeline (next to the socket) and only delays the outbound `read`
/// operation; data passes through untouched.
final class ReadPacer: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let window: TimeAmount
    private let busyBytes: Int
    /// When the last read was let through to the socket.
    private var lastRead: NIODeadline = .distantPast
    /// Bytes received since then.
    private var bytesSinceRead = 0
    private var held: Scheduled<Void>?

    init(window: TimeAmount, busyBytes: Int = 32 << 10) {
        self.window = window
        self.busyBytes = busyBytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        bytesSinceRead += unwrapInboundIn(data).readableBytes
        context.fireChannelRead(data)
    }

    func read(context: ChannelHandlerContext) {
        guard held == nil else { return }  // a read is already on its way
        let now = NIODeadline.now()
        let due = lastRead + window
        if bytesSinceRead >= busyBytes || now >= due {
            pass(context, now: now)
            return
        }
        let bound = NIOLoopBound((pacer: self, context: context), eventLoop: context.eventLoop)
        held = context.eventLoop.scheduleTask(deadline: due) {
            let (pacer, context) = bound.value
            pacer.held = nil
            pacer.pass(context, now: .now())
        }
    }

    private func pass(_ context: ChannelHandlerContext, now: NIODeadline) {
        lastRead = now
        bytesSinceRead = 0
        context.read()
    }

    func channelInactive(context: ChannelHandlerContext) {
        held?.cancel()
        held = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        held?.cancel()
        held = nil
    }
}

/// Counts WebSocket frames that have come off the socket and that the session has not taken
/// yet, so that the session can take everything already received without waiting for more.
final class ReceivedFrames: Sendable {
    private let count = Atomic<Int>(0)

    func arrived() { count.wrappingAdd(1, ordering: .relaxed) }
    func taken() { count.wrappingSubtract(1, ordering: .relaxed) }
    /// Whether a frame is waiting (it may still be on its way through the event loop).
    var waiting: Bool { count.load(ordering: .relaxed) > 0 }
}

/// Notes every frame decoded from the socket in a ``ReceivedFrames``.
final class FrameArrivalCounter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame

    let frames: ReceivedFrames

    init(_ frames: ReceivedFrames) { self.frames = frames }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        frames.arrived()
        context.fireChannelRead(data)
    }
}
