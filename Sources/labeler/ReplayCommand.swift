import ATProto
import ArgumentParser
import Firehose
import LabelStore
import Labeler

#if canImport(Glibc)
import Glibc
#endif

struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Run the pipeline over capture files, as fast as possible.",
        discussion: """
            The captures go through the same decoder, scheduler and handlers as a live relay. With \
            --db the cursor is stored, so replaying the same capture into the same database again \
            handles nothing twice.
            """
    )

    @Argument(help: "Capture files (plain, gzip or zstd).")
    var captures: [String]

    @Option(help: "SQLite database to keep the cursor in.")
    var db: String?

    @Option(help: "Accounts processed at once (1 = sequential).")
    var concurrency: Int = 8

    @Flag(help: "End with one JSON summary object.")
    var json = false

    func validate() throws {
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
    }

    func run() async throws {
        let logger = CommandLineLogging.logger("labeler.replay")
        let store: LabelStore?
        do { store = try db.map { path throws(LabelStore.Error) in try LabelStore(path: path) } } catch {
            throw CommandFailure(error.description)
        }
        for path in captures {
            do { _ = try CaptureReader(path: path) } catch { throw CommandFailure(error.description) }
        }
        let source = CaptureSource(paths: captures)
        let pipeline = IngestPipeline(
            source: source, store: store,
            configuration: .init(scheduler: .init(concurrency: concurrency)), logger: logger
        ) { _, _ in }
        let clock = ContinuousClock()
        let start = clock.now
        let progress = ProcessInfoLite.stderrIsTerminal && !json ? Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                let c = source.counts
                writeToStandardError("\r\(c.messages) messages, \(c.events) events")
            }
        } : nil
        let summary: IngestPipeline.Summary
        do {
            summary = try await pipeline.run()
        } catch {
            progress?.cancel()
            throw CommandFailure("\(error)")
        }
        progress?.cancel()
        if progress != nil { writeToStandardError("\r\u{1B}[K") }
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let counts = source.counts
        let errors = counts.undecodable + counts.rejected + summary.failed
        let fields: [(String, String)] = [
            ("events", "\(summary.events)"), ("commits", "\(summary.commits)"), ("records", "\(summary.records)"),
            ("labels", "0"), ("errors", "\(errors)"), ("seconds", fixed(seconds, 3)),
            ("events_per_second", "\(seconds > 0 ? Int(Double(summary.events) / seconds) : 0)"),
        ]
        if json {
            print("{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}")
        } else {
            for (key, value) in fields { print(key + String(repeating: " ", count: 18 - key.count) + value) }
        }
    }
}

/// `value` with `digits` decimals, without Foundation.
func fixed(_ value: Double, _ digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = Int((value * scale).rounded())
    let whole = scaled / Int(scale)
    let fraction = String(scaled % Int(scale))
    return "\(whole)." + String(repeating: "0", count: digits - fraction.count) + fraction
}
