import ArgumentParser
import Labeler
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The process's logging: set up once, with the configuration's `log.*` settings when the command
/// reads a configuration (``LoggingOptions/setUp(_:)``), else with `LABELER_LOG_*` alone.
enum CommandLineLogging {
    /// The settings logging was set up with; nil until the first logger or `setUp`.
    private static let chosen = Mutex<LogSettings?>(nil)

    /// Sets up logging with `settings` unless it is set up already (swift-log allows one
    /// bootstrap per process); returns the settings in force.
    @discardableResult
    static func setUp(_ settings: LogSettings) -> LogSettings {
        chosen.withLock { chosen in
            if let chosen { return chosen }
            LoggingSystem.bootstrap { label in settings.handler(label: label) }
            chosen = settings
            return settings
        }
    }

    /// A logger for `label`; logging is set up from the environment if no command did it first.
    /// `Labeler.main` has checked the `LABELER_LOG_*` values, so the fallback only covers the
    /// defaults.
    static func logger(_ label: String) -> Logger {
        if chosen.withLock({ $0 == nil }) {
            setUp(
                (try? LabelerConfiguration.logSettings(environment: ProcessInfoLite.environmentVariables))
                    ?? LogSettings())
        }
        return Logger(label: label)
    }
}

/// A log level on the command line (swift-log's `Logger.Level`, wrapped rather than conformed
/// to `ExpressibleByArgument` from outside both modules). Any text parses; an unknown one is
/// refused when logging is set up, in one line like every other bad value (the parser's own
/// refusal would add the usage text).
struct LogLevelArgument: ExpressibleByArgument {
    let text: String
    let level: Logger.Level?

    init?(argument: String) {
        text = argument
        level = Logger.Level(rawValue: argument)
    }

    static var allValueStrings: [String] { Logger.Level.allCases.map(\.rawValue) }
}

/// `--log-level`, for the commands that log.
struct LoggingOptions: ParsableArguments {
    @Option(
        name: .customLong("log-level"),
        help: "The least severe level logged (default: LABELER_LOG_LEVEL, else log.level, else info)."
    )
    var logLevel: LogLevelArgument?

    /// Sets up logging from `configuration`'s `log.*` settings (the file's and `LABELER_LOG_*`), or
    /// from the environment for a command that read no configuration; `--log-level` wins.
    func setUp(_ configuration: LabelerConfiguration?) throws {
        var settings: LogSettings
        if let configuration {
            settings = configuration.log
        } else {
            do {
                settings = try LabelerConfiguration.logSettings(environment: ProcessInfoLite.environmentVariables)
            } catch {
                throw CommandFailure(error.description)
            }
        }
        if let logLevel {
            guard let level = logLevel.level else {
                throw CommandFailure(
                    "--log-level \(logLevel.text): use one of \(LogLevelArgument.allValueStrings.joined(separator: ", "))"
                )
            }
            settings.level = level
        }
        CommandLineLogging.setUp(settings)
    }
}

enum ProcessInfoLite {
    static func environment(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }

    /// Every environment variable (the configuration reads the `LABELER_*` ones).
    static var environmentVariables: [String: String] {
        var variables: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.firstIndex(of: "=") {
                variables[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            entry += 1
        }
        return variables
    }

    /// Whether standard error is a terminal (progress lines are only for people).
    static var stderrIsTerminal: Bool { isatty(2) == 1 }
}

/// Writes text to standard error unbuffered (for progress lines that rewrite themselves).
func writeToStandardError(_ text: String) {
    var text = text
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}
