import ATCrypto
import ATProto
import Foundation
import LabelStore
import Labeler
import Logging

/// Labels signed and committed per second through the label writer (group commit into SQLite in
/// WAL mode), with many workers submitting at once, as the pipeline does.
/// Usage: writer-bench [--labels N] [--workers W] [--per-submit K] [--key secp256k1|p256] [--wait]
///                     [--durability full|normal]
/// Workers queue their changes as the pipeline does (`enqueue`); with `--wait` each waits for its
/// commit (`submit`, as people's changes through the admin endpoint do).
@main
struct WriterBenchmark {
    static func main() async throws {
        var args = Array(CommandLine.arguments.dropFirst())
        var total = 100_000
        var workers = 64
        var perSubmit = 1
        var keyType = KeyType.secp256k1
        var wait = false
        var durability = LabelStore.Durability.full
        while !args.isEmpty {
            switch args.removeFirst() {
            case "--labels": total = Int(args.removeFirst()) ?? total
            case "--workers": workers = Int(args.removeFirst()) ?? workers
            case "--per-submit": perSubmit = Int(args.removeFirst()) ?? perSubmit
            case "--key": keyType = KeyType(rawValue: args.removeFirst()) ?? keyType
            case "--wait": wait = true
            case "--durability": durability = LabelStore.Durability(rawValue: args.removeFirst()) ?? durability
            default: break
            }
        }
        let (workerCount, batchSize, waits) = (workers, perSubmit, wait)
        // What one label's signature costs on one core (CBOR encoding, SHA-256, ECDSA), for
        // comparing with the labels/s below.
        do {
            let key = SigningKey.generate(keyType)
            let label = Label(
                src: "did:plc:benchlabeler", uri: "at://did:plc:w/app.bsky.feed.post/1", val: "spam",
                cts: "2026-01-01T00:00:00.000Z")
            let clock = ContinuousClock()
            let start = clock.now
            var sink = 0
            for _ in 0..<2_000 { sink &+= Int(try label.signed(with: key).sig?.first ?? 0) }
            let elapsed = clock.now - start
            let micros =
                (Double(elapsed.components.seconds) * 1e6 + Double(elapsed.components.attoseconds) / 1e12) / 2_000
            print("\(keyType.rawValue): one signature \(String(format: "%.1f", micros)) µs on one core (\(sink % 2))")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("writer-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try LabelStore(path: dir.appendingPathComponent("labels.sqlite").path, durability: durability)
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let writer = try LabelWriter(store: store, src: "did:plc:benchlabeler", key: .generate(keyType), logger: logger)
        let run = Task { await writer.run() }
        let clock = ContinuousClock()
        let start = clock.now
        let perWorker = total / workerCount
        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<workerCount {
                group.addTask {
                    var n = 0
                    while n < perWorker {
                        let count = min(batchSize, perWorker - n)
                        let changes = try (0..<count).map { i in
                            LabelChange(
                                action: .apply,
                                subject: try LabelSubject("at://did:plc:w\(w)/app.bsky.feed.post/\(n + i)"),
                                val: "spam",
                                origin: .rule(id: "bench"), field: "text", snippet: "matched text")
                        }
                        if waits { _ = try await writer.submit(changes) } else { try await writer.enqueue(changes) }
                        n += count
                    }
                }
            }
            try await group.waitForAll()
        }
        // Stopping commits what is still queued: the time includes every label being durable.
        run.cancel()
        await run.value
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let written = writer.totals
        print(
            "\(keyType.rawValue), synchronous=\(durability.rawValue): \(written.labels) labels in \(written.batches) transactions (largest \(written.largestBatch)), "
                + "\(workers) workers × \(perSubmit) per \(wait ? "submit, waiting" : "enqueue"): "
                + "\(Int(Double(written.labels) / seconds)) labels/s (signing \(String(format: "%.2f", written.signSeconds)) s, "
                + "committing \(String(format: "%.2f", written.commitSeconds)) s of \(String(format: "%.2f", seconds)) s)"
        )
    }
}
