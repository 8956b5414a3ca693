import ATProto
import ArgumentParser
import Firehose
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
        do {
            try await source.run(resumeAfter: { start }, deliver: { event in try recorder.write(event) })
        } catch is CaptureRecorder.LimitReached {
        } catch {
            try? recorder.flush()
            throw CommandFailure("\(error)")
        }
        do { try recorder.flush() } catch { throw CommandFailure(error.description) }
        logger.info("capture written", metadata: ["file": "\(out)", "events": "\(recorder.count)"])
    }
}
