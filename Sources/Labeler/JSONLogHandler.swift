import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// A log handler that writes each message as one line of JSON, for log collectors (journald with
/// a JSON parser, Loki, Vector) that would otherwise have to parse `key=value` text:
///
/// ```
/// {"ts":"2026-12-03T04:05:06.789Z","level":"info","logger":"labeler","msg":"serving labels","port":"14831"}
/// ```
///
/// `ts` (UTC, milliseconds), `level`, `logger` (the logger's label) and `msg` come first; the
/// metadata follows as top-level keys. A metadata key that would collide with one of those four is
/// written as `meta_` + key, so no line carries a key twice. Metadata values are strings (as the
/// labeler logs them), nested arrays and objects stay JSON arrays and objects.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    let label: String
    let now: @Sendable () -> Date
    let write: @Sendable (String) -> Void

    /// The keys every line starts with; metadata under these names is renamed.
    static let reservedKeys: Set<String> = ["ts", "level", "logger", "msg"]

    /// - Parameters:
    ///   - write: receives each line, newline included; by default standard error, one `write(2)`
    ///     per line under a lock, so lines from different tasks never interleave.
    ///   - now: the clock for `ts` (tests fix it).
    public init(
        label: String, level: Logger.Level = .info, metadataProvider: Logger.MetadataProvider? = nil,
        now: @escaping @Sendable () -> Date = { Date() },
        write: @escaping @Sendable (String) -> Void = JSONLogHandler.standardError
    ) {
        self.label = label
        self.logLevel = level
        self.metadataProvider = metadataProvider
        self.now = now
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let own = event.metadata { merged.merge(own) { _, new in new } }
        write(Self.line(time: now(), level: event.level, label: label, message: "\(event.message)", metadata: merged))
    }

    /// One log line: the JSON object and a newline.
    static func line(time: Date, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata)
        -> String
    {
        var out = "{\"ts\":"
        JSONText.appendString(Self.timestamp(time), to: &out)
        out += ",\"level\":"
        JSONText.appendString(level.rawValue, to: &out)
        out += ",\"logger\":"
        JSONText.appendString(label, to: &out)
        out += ",\"msg\":"
        JSONText.appendString(message, to: &out)
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            out += ","
            JSONText.appendString(reservedKeys.contains(key) ? "meta_" + key : key, to: &out)
            out += ":"
            append(value, to: &out)
        }
        out += "}\n"
        return out
    }

    private static func append(_ value: Logger.Metadata.Value, to out: inout String) {
        switch value {
        case .string(let text): JSONText.appendString(text, to: &out)
        case .stringConvertible(let value): JSONText.appendString(value.description, to: &out)
        case .array(let values):
            out += "["
            for (index, element) in values.enumerated() {
                if index > 0 { out += "," }
                append(element, to: &out)
            }
            out += "]"
        case .dictionary(let entries):
            out += "{"
            for (index, (key, element)) in entries.sorted(by: { $0.key < $1.key }).enumerated() {
                if index > 0 { out += "," }
                JSONText.appendString(key, to: &out)
                out += ":"
                append(element, to: &out)
            }
            out += "}"
        }
    }

    /// `2026-12-03T04:05:06.789Z`: RFC 3339 in UTC to the millisecond, what collectors parse
    /// without configuration.
    static func timestamp(_ time: Date) -> String {
        // To the microsecond first, so a Double just under a whole millisecond does not lose it.
        let micros = Int64((time.timeIntervalSince1970 * 1_000_000).rounded())
        var (whole, fraction) = micros.quotientAndRemainder(dividingBy: 1_000_000)
        if fraction < 0 {  // before 1970 the remainder is negative
            fraction += 1_000_000
            whole -= 1
        }
        var seconds = time_t(whole)
        let millis = Int(fraction / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ n: Int32, _ width: Int) -> String {
            let digits = String(n)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return pad(parts.tm_year + 1900, 4) + "-" + pad(parts.tm_mon + 1, 2) + "-" + pad(parts.tm_mday, 2) + "T"
            + pad(parts.tm_hour, 2) + ":" + pad(parts.tm_min, 2) + ":" + pad(parts.tm_sec, 2) + "."
            + pad(Int32(millis), 3) + "Z"
    }

    /// Writes `line` to standard error in one `write(2)` call, under a lock shared by every
    /// handler of the process.
    public static let standardError: @Sendable (String) -> Void = { line in
        standardErrorLock.withLock { _ in
            var line = line
            line.withUTF8 { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = Glibc.write(2, bytes.baseAddress! + offset, bytes.count - offset)
                    if written <= 0 {
                        if written < 0 && errno == EINTR { continue }
                        return
                    }
                    offset += written
                }
            }
        }
    }
    private static let standardErrorLock = Locked(())
}

/// JSON string literals, escaped as RFC 8259 requires: quote, backslash and every control
/// character (as `\n`, `\r`, `\t` or `\u00XX`); everything else, non-ASCII included, as UTF-8.
enum JSONText {
    static func appendString(_ text: String, to out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
