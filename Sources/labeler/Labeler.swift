import ArgumentParser
import Labeler

@main
struct Labeler: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "labeler",
        abstract: "An AT Protocol labeler: reads the firehose, applies rules, signs and serves labels.",
        // `labeler --version`: the VERSION the build compiled in, as `/xrpc/_health` reports it.
        version: LabelerVersion.current,
        subcommands: [
            RunCommand.self, ReplayCommand.self, RecordCommand.self, CaptureCommand.self, LabelsCommand.self,
            LabelCommand.self, KeysCommand.self, RulesCommand.self, DeclareCommand.self, DoctorCommand.self,
            ReportsCommand.self,
        ]
    )

    static func main() async {
        // The service catches its stop signals before anything else runs (see StopSignals).
        if CommandLine.arguments.dropFirst().first == "run" { StopSignals.install() }
        do {
            var command = try parseAsRoot()
            // A bad LABELER_LOG_FORMAT or LABELER_LOG_LEVEL stops every command with one line,
            // including those that read no configuration.
            do { _ = try LabelerConfiguration.logSettings(environment: ProcessInfoLite.environmentVariables) } catch {
                throw CommandFailure(error.description)
            }
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
