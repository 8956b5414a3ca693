import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// A subscribeLabels client that costs as little as possible, so that the benchmark, whose
/// clients share the server's cores, measures the server: it reads each frame's seq on the event
/// loop, without copying the frame or hopping to a task.
enum LightClient {
    struct Result: Sendable {
        var frames = 0
        var latencies = LatencyHistogram.Buckets()
    }

    /// Connects, reads frames until `lastSeq`, checks that seqs run 1, 2, 3… from `firstSeq`,
    /// records each frame's latency from `submitted` (when given), and closes.
    static func run(
        host: String, port: Int, target: String, firstSeq: Int64, lastSeq: Int64, submitted: Timestamps?,
        connected: Counter
    ) async throws -> Result {
        let group = MultiThreadedEventLoopGroup.singleton
        let done = group.next().makePromise(of: Result.self)
        let channel = try await ClientBootstrap(group: group).connect(host: host, port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                let upgrader = NIOTypedWebSocketClientUpgrader<Void>(
                    maxFrameSize: 1 << 20,
                    upgradePipelineHandler: { channel, _ in
                        channel.eventLoop.makeCompletedFuture {
                            connected.value.add(1, ordering: .relaxed)
                            try channel.pipeline.syncOperations.addHandler(
                                FrameCounter(expected: firstSeq - 1, last: lastSeq, submitted: submitted, done: done))
                        }
                    })
                var headers = HTTPHeaders()
                headers.add(name: "Host", value: "\(host):\(port)")
                let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target, headers: headers)
                let configuration = NIOTypedHTTPClientUpgradeConfiguration<Void>(
                    upgradeRequestHead: head, upgraders: [upgrader],
                    notUpgradingCompletionHandler: { channel in
                        channel.eventLoop.makeCompletedFuture { done.fail(Refused()) }
                    })
                return try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
                    configuration: .init(upgradeConfiguration: configuration))
            }
        }
        _ = channel
        return try await done.futureResult.get()
    }

    struct Refused: Error {}
    struct OutOfOrder: Error {}

    final class FrameCounter: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = WebSocketFrame
        typealias OutboundOut = WebSocketFrame

        private var expected: Int64
        private let last: Int64
        private let submitted: Timestamps?
        private let done: EventLoopPromise<Result>
        private var result = Result()
        private var finished = false

        init(expected: Int64, last: Int64, submitted: Timestamps?, done: EventLoopPromise<Result>) {
            self.expected = expected
            self.last = last
            self.submitted = submitted
            self.done = done
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            switch frame.opcode {
            case .binary:
                let now = Timestamps.now()
                guard let seq = FrameSeq.read(frame.data) else {
                    fail(context, OutOfOrder())
                    return
                }
                guard seq == expected + 1 else {
                    fail(context, OutOfOrder())
                    return
                }
                expected = seq
                result.frames += 1
                if let submitted { result.latencies.record(nanoseconds: now &- submitted[Int(seq)]) }
                if seq >= last {
                    finished = true
                    done.succeed(result)
                    context.close(promise: nil)
                }
            case .ping:
                var data = frame.data
                let pong = WebSocketFrame(
                    fin: true, opcode: .pong, maskKey: .random(),
                    data: data.readSlice(length: data.readableBytes) ?? ByteBuffer())
                context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
            case .connectionClose:
                fail(context, Refused())
            default:
                break
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            if !finished { fail(context, ChannelError.eof) }
        }

        private func fail(_ context: ChannelHandlerContext, _ error: any Error) {
            guard !finished else { return }
            finished = true
            done.fail(error)
            context.close(promise: nil)
        }
    }
}
