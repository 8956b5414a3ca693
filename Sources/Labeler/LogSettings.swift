import Logging

/// How the labeler logs: the `log.*` keys of the configuration (`LABELER_LOG_*` in the
/// environment), and `--log-level` on the commands that log.
public struct LogSettings: Sendable, Equatable {
    /// `text`: `key=value` lines for people; `json`: one JSON object per line (``JSONLogHandler``)
    /// for log collectors.
    public enum Format: String, Sendable, CaseIterable { case text, json }

    public var format = Format.text
    /// The least severe level written.
    public var level = Logger.Level.info
    /// How often `labeler run` logs a status line (event rate, lag, labels, errors); zero: never.
    /// A minute is often enough to see a stall in the journal without burying everything else.
    public var statusInterval = Duration.seconds(60)

    public init(format: Format = .text, level: Logger.Level = .info, statusInterval: Duration = .seconds(60)) {
        self.format = format
        self.level = level
        self.statusInterval = statusInterval
    }

    /// A log handler for `label` as these settings ask: text or JSON on standard error, at `level`.
    public func handler(label: String) -> any LogHandler {
        switch format {
        case .text:
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        case .json:
            return JSONLogHandler(label: label, level: level)
        }
    }
}
