import ATCrypto
import ATProto
import BenchmarkSupport
import Firehose
import Foundation
import LabelServer
import LabelStore
import Labeler
import Logging
import Synchronization

/// How fast the label server streams labels.
///
/// 1. Backfill: one subscriber replays a store of `--backfill` labels from cursor 0 (labels/s).
/// 2. Live fan-out: `--subscribers` subscribers follow the stream while labels are submitted to the
///    label writer at `--rate` per second for `--seconds`: delivery latency from `submit` to
///    receipt (p50/p99/max over every delivery), and the process's resident memory.
///
/// Server and clients share this process (and its cores), so the clients are made cheap: by
/// default a light NIO client that reads each frame's seq on the event loop; with
/// `--firehose-client`, the project's own WebSocket client, which also decodes a sample of
/// frames in full.
///
/// Usage: serve-bench [--smoke] [--backfill N] [--subscribers N] [--rate N] [--seconds N]
///                    [--key secp256k1|p256] [--firehose-client] [--live-writes-per-second N]
@main
struct ServeBenchmark {
    static func main() async throws {
        var options = Options()
        options.parse(Array(CommandLine.arguments.dropFirst()))
        try await withBenchmarkRun("serve-bench") { dir, logger in
            print("serve-bench\(options.smoke ? " (smoke)" : ""): \(options)")
            if options.backfill > 0 {
                try await backfill(options, path: dir.appendingPathComponent("backfill.sqlite").path, logger: logger)
            }
            if options.subscribers > 0 {
                try await liveFanOut(options, path: dir.appendingPathComponent("live.sqlite").path, logger: logger)
            }
            print("peak RSS \(Memory.peakResidentMB()) MB")
        }
    }

    // MARK: Backfill

    static func backfill(_ options: Options, path: String, logger: Logger) async throws {
        let store = try LabelStore(path: path)
        let key = SigningKey.generate(options.keyType)
        let writer = try LabelWriter(store: store, src: "did:plc:benchlabeler", key: key, logger: logger)
        let keyID = writer.currentKeyID
        let writing = Task { await writer.run() }
        let clock = ContinuousClock()
        let fillStart = clock.now
        let batch = 10_000
        for start in stride(from: 0, to: options.backfill, by: batch) {
            let changes = try (start..<min(start + batch, options.backfill)).map {
                LabelChange(
                    action: .apply, subject: try LabelSubject("at://did:plc:bench\($0 % 977)/app.bsky.feed.post/\($0)"),
                    val: "spam",
                    origin: .rule(id: "bench"))
            }
            _ = try await writer.submit(changes)
        }
        writing.cancel()
        await writing.value
        print("backfill: stored \(options.backfill) labels in \(seconds(clock.now - fillStart)) s")

        try await withLabelServer(store: store, signingKey: key, keyID: keyID, logger: logger) { _, port in
            let last = Int64(options.backfill)
            let start = clock.now
            let received: Int
            if options.firehoseClient {
                let endpoint = try WebSocketEndpoint(
                    "ws://127.0.0.1:\(port)/xrpc/com.atproto.label.subscribeLabels?cursor=0")
                received = try await WebSocketClient.withConnection(to: endpoint) { session in
                    var count = 0
                    var expected: Int64 = 0
                    while expected < last, let message = try await session.receive() {
                        guard case .binary(let bytes) = message else { continue }
                        let seq = try FrameSeq.read(bytes, verifyFully: count % 10_000 == 0)
                        // Every row is current (no label is written twice), so seqs are 1...N.
                        precondition(seq == expected + 1, "gap or repeat: \(seq) after \(expected)")
                        expected = seq
                        count += 1
                    }
                    await session.close()
                    return count
                }
            } else {
                received = try await LightClient.run(
                    host: "127.0.0.1", port: port, target: "/xrpc/com.atproto.label.subscribeLabels?cursor=0",
                    firstSeq: 1,
                    lastSeq: last, submitted: nil, connected: Counter()
                ).frames
            }
            let elapsed = seconds(clock.now - start)
            print(
                "backfill: \(received) labels to one subscriber in \(format(elapsed)) s = "
                    + "\(Int(Double(received) / elapsed)) labels/s")
        }
    }

    // MARK: Live fan-out

    static func liveFanOut(_ options: Options, path: String, logger: Logger) async throws {
        let store = try LabelStore(path: path)
        let key = SigningKey.generate(options.keyType)
        let writer = try LabelWriter(store: store, src: "did:plc:benchlabeler", key: key, logger: logger)
        let keyID = try store.keyID(forDIDKey: key.publicKey.didKey, at: Datetime.now().rawValue)
        let total = options.rate * options.seconds
        let before = Memory.residentMB()
        let submitted = Timestamps(count: total + 1)
        let histogram = LatencyHistogram()
        let clock = ContinuousClock()
        try await withThrowingTaskGroup(of: Void.self) { services in
            services.addTask { await writer.run() }
            defer { services.cancelAll() }
            try await withLabelServer(
                configuration: .init(
                    host: "127.0.0.1", port: 0, maxSubscribers: options.subscribers + 10,
                    liveWritesPerSecond: options.liveWritesPerSecond), store: store, signingKey: key, keyID: keyID,
                submit: { try await writer.submit($0) }, commits: writer.commits, logger: logger
            ) { server, port in
                let endpoint = try WebSocketEndpoint("ws://127.0.0.1:\(port)/xrpc/com.atproto.label.subscribeLabels")
                let connected = Counter()
                let connectStart = clock.now
                try await withThrowingTaskGroup(of: Void.self) { clients in
                    for _ in 0..<options.subscribers {
                        clients.addTask {
                            if !options.firehoseClient {
                                let result = try await LightClient.run(
                                    host: "127.0.0.1", port: port, target: "/xrpc/com.atproto.label.subscribeLabels",
                                    firstSeq: 1,
                                    lastSeq: Int64(total), submitted: submitted, connected: connected)
                                histogram.merge(result.latencies)
                                return
                            }
                            try await WebSocketClient.withConnection(
                                to: endpoint,
                                configuration: .init(pingInterval: .seconds(60), silenceTimeout: .seconds(300))
                            ) { session in
                                connected.value.add(1, ordering: .relaxed)
                                var local = LatencyHistogram.Buckets()
                                var expected: Int64 = 0
                                var count = 0
                                while expected < Int64(total), let message = try await session.receive() {
                                    guard case .binary(let bytes) = message else { continue }
                                    let now = Timestamps.now()
                                    let seq = try FrameSeq.read(bytes, verifyFully: count % 1000 == 0)
                                    precondition(seq == expected + 1, "gap or repeat: \(seq) after \(expected)")
                                    expected = seq
                                    count += 1
                                    local.record(nanoseconds: now &- submitted[Int(seq)])
                                }
                                histogram.merge(local)
                                await session.close()
                            }
                        }
                    }
                    // Everyone connected and registered before the first label.
                    while connected.value.load(ordering: .relaxed) < options.subscribers
                        || server.subscriberCount < options.subscribers
                    {
                        try await Task.sleep(for: .milliseconds(20))
                    }
                    print(
                        "live: \(options.subscribers) subscribers connected in \(format(seconds(clock.now - connectStart))) s, "
                            + "RSS \(before) → \(Memory.residentMB()) MB (clients included)")
                    // Submit every 10 ms, one submission at a time, so seqs follow the submission order.
                    let perTick = max(1, options.rate / 100)
                    let ticks = total / perTick
                    let start = clock.now
                    var seq = 0
                    for tick in 0..<ticks {
                        try await clock.sleep(until: start + .milliseconds(10 * tick))
                        let changes = try (0..<perTick).map { i in
                            LabelChange(
                                action: .apply,
                                subject: try LabelSubject("at://did:plc:live\(i)/app.bsky.feed.post/\(seq + i)"),
                                val: "spam",
                                origin: .rule(id: "bench"))
                        }
                        let now = Timestamps.now()
                        for i in 1...perTick { submitted[seq + i] = now }
                        let rows = try await writer.submit(changes)
                        precondition(rows.first?.seq == Int64(seq + 1), "seqs do not follow submissions")
                        seq += perTick
                    }
                    let writing = seconds(clock.now - start)
                    print(
                        "live: submitted \(seq) labels in \(format(writing)) s = \(Int(Double(seq) / writing)) labels/s"
                    )
                    try await clients.waitForAll()
                }
            }
        }
        let result = histogram.summary()
        print(
            "live: \(result.count) deliveries; latency p50 \(format(result.p50)) ms, p99 \(format(result.p99)) ms, "
                + "max \(format(result.max)) ms; RSS now \(Memory.residentMB()) MB")
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    static func format(_ x: Double) -> String { String(format: "%.2f", x) }
}

struct Options: CustomStringConvertible {
    var smoke = false
    var backfill = 1_000_000
    var subscribers = 1000
    var rate = 1000
    var seconds = 10
    var keyType = KeyType.secp256k1
    /// The server's `liveWritesPerSecond`.
    var liveWritesPerSecond = LabelServer.Configuration().liveWritesPerSecond
    /// Use the project's own WebSocket client (a realistic consumer) instead of the light one.
    var firehoseClient = false

    mutating func parse(_ arguments: [String]) {
        var args = arguments
        while !args.isEmpty {
            switch args.removeFirst() {
            case "--smoke":
                smoke = true
                backfill = 20_000
                subscribers = 50
                rate = 200
                seconds = 3
            case "--backfill": backfill = Int(args.removeFirst()) ?? backfill
            case "--subscribers": subscribers = Int(args.removeFirst()) ?? subscribers
            case "--rate": rate = Int(args.removeFirst()) ?? rate
            case "--seconds": seconds = Int(args.removeFirst()) ?? seconds
            case "--key": keyType = KeyType(rawValue: args.removeFirst()) ?? keyType
            case "--firehose-client": firehoseClient = true
            case "--live-writes-per-second": liveWritesPerSecond = Int(args.removeFirst()) ?? liveWritesPerSecond
            default: break
            }
        }
    }

    var description: String {
        "backfill \(backfill), subscribers \(subscribers), rate \(rate)/s for \(seconds) s, key \(keyType.rawValue), "
            + "live writes ≤ \(liveWritesPerSecond)/s, "
            + (firehoseClient ? "Firehose WebSocket client" : "light client")
    }
}
