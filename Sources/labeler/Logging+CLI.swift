import Logging

#if canImport(Glibc)
import Glibc
#endif

enum CommandLineLogging {
    /// Logs to standard error at the level in `LABELER_LOG_LEVEL` (default `info`). Once per process.
    static let bootstrap: Void = {
        let level = ProcessInfoLite.environment("LABELER_LOG_LEVEL").flatMap(Logger.Level.init(rawValue:)) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }()

    static func logger(_ label: String) -> Logger {
        _ = bootstrap
        return Logger(label: label)
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
