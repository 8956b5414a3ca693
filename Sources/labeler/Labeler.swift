import ArgumentParser

@main
struct Labeler: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "labeler",
        abstract: "An AT Protocol labeler: reads the firehose, applies rules, signs and serves labels.",
        subcommands: [RunCommand.self, ReplayCommand.self, RecordCommand.self, CaptureCommand.self, LabelsCommand.self, LabelCommand.self, KeysCommand.self, RulesCommand.self]
    )
}
