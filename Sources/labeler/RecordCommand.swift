import ATProto
import ArgumentParser
import Firehose
import Labeler
import Logging

struct RecordCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Save a relay's messages to a capture file.",
        discussion: """
            Each message is written exactly as received, as uvarint(length) message. The recording \
            reconnects like the service does; it stops after --limit events or on Ctrl-C.
            """
    )

    @Option(help: "Relay URL, e.g. wss://bsky.network.")
    var relay: String

    @Option(help: "Capture file to create.")
    var out: String

    @Option(help: "Start after this seq (default: the live head).")
    var cursor: Int64?

    @Option(help: "Stop after this many events.")
    var limit: Int?

    @OptionGroup var logging: LoggingOptions
    @OptionGroup var progressOptions: ProgressOptions

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() async throws {
        try logging.setUp(nil)
        let logger = CommandLineLogging.logger("labeler.record")
        let source: RelaySource
        let recorder: CaptureRecorder
        do {
            source = try RelaySource(
                configuration: .init(url: relay), decoder: RepoEventDecoder(verifyBlocks: false), logger: logger)
            recorder = try CaptureRecorder(path: out, limit: limit)
        } catch {
            throw CommandFailure("\(error)")
        }
        let start = cursor
        // Events written and bytes received; with --limit, how far to it.
        let reporter = progressOptions.reporter(unit: "events")
        let limit = self.limit
        let progress = Task {
            await reporter.run {
                WorkProgress(count: recorder.count, bytes: Int64(source.metrics.snapshot.bytes), totalCount: limit)
            }
        }
        /// Stops the line, and erases it on a terminal, before anything else is written.
        func stopProgress() async {
            progress.cancel()
            await progress.value
            reporter.finish()
        }
        do {
            try await source.run(resumeAfter: { start }, deliver: { event in try recorder.write(event) })
            await stopProgress()
        } catch is CaptureRecorder.LimitReached {
            await stopProgress()
        } catch {
            await stopProgress()
            try? recorder.flush()
            throw CommandFailure("\(error)")
        }
        do { try recorder.flush() } catch { throw CommandFailure(error.description) }
        logger.info("capture written", metadata: ["file": "\(out)", "events": "\(recorder.count)"])
    }
}
