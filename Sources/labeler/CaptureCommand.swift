import ATProto
import ArgumentParser
import Firehose
import Labeler

struct CaptureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
        abstract: "Inspect capture files (raw relay messages).",
        subcommands: [Stats.self, CaptureVerifyCommand.self]
    )

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Decode every message of capture files and count what they hold.",
            discussion: """
                Each message is decoded fully: header and body, the commit's CAR with every block's \
                sha-256 checked against its CID, the commit object, and every created or updated record. \
                Files may be plain, gzip or zstd. Exits 1 when any message fails to decode or a block \
                does not match its CID.
                """
        )

        @Argument(help: "Capture files.")
        var files: [String]

        @Flag(help: "Print one JSON object.")
        var json = false

        @OptionGroup var progressOptions: ProgressOptions

        func run() throws {
            let stats: CaptureStats
            let reporter = progressOptions.reporter(unit: "messages")
            let totalBytes = totalSize(files)
            do {
                stats = try CaptureStats.collect(paths: files) { messages, fileBytes in
                    reporter.report(WorkProgress(count: messages, bytes: Int64(fileBytes), totalBytes: totalBytes))
                }
            } catch {
                reporter.finish()
                throw CommandFailure("\(error)")
            }
            reporter.finish()
            if json {
                print(stats.json)
            } else {
                let width = stats.jsonFields.map(\.0.count).max() ?? 0
                for (key, value) in stats.jsonFields {
                    print(key + String(repeating: " ", count: width - key.count) + "  " + value)
                }
                for line in stats.firstErrors { print("error: " + line) }
            }
            if !stats.isClean { throw ExitCode(1) }
        }
    }
}

/// A failure reported as one readable line on standard error, with exit status 1.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
