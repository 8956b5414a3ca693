import Synchronization

/// How far a long command has come: what it counted so far, and the totals when it knows them.
public struct WorkProgress: Sendable, Equatable {
    /// Things done so far (messages, events, labels), named by the reporter's `unit`.
    public var count: Int
    /// Bytes read or written so far, when the work is measured in bytes.
    public var bytes: Int64?
    /// The count at the end, when known (`record --limit`, the labels to re-sign).
    public var totalCount: Int?
    /// The bytes at the end, when known (the capture files' sizes).
    public var totalBytes: Int64?

    public init(count: Int, bytes: Int64? = nil, totalCount: Int? = nil, totalBytes: Int64? = nil) {
        self.count = count
        self.bytes = bytes
        self.totalCount = totalCount
        self.totalBytes = totalBytes
    }

    /// The part done, from 0 to 1, when a total is known: by bytes when both are known (a
    /// capture's messages vary in size, its bytes do not lie), else by count.
    public var fraction: Double? {
        if let bytes, let totalBytes, totalBytes > 0 { return min(1, Double(bytes) / Double(totalBytes)) }
        if let totalCount, totalCount > 0 { return min(1, Double(count) / Double(totalCount)) }
        return nil
    }
}

/// The progress line of `replay`, `capture stats`, `record` and `keys resign`, on standard error
/// so that what they print on standard output stays clean for scripts:
///
/// ```
/// 1200000 messages (48000/s), 512.3 MB (20.5 MB/s), 37%, ETA 42s
/// ```
///
/// On a terminal the line is redrawn in place once a second; elsewhere (a pipe, a log file,
/// journald) a line of its own every 10 s, with no control characters. `--quiet` turns it off.
/// Commands call ``report(_:)`` as often as they like; the reporter draws only when a line is due,
/// by its clock, so the clock (injected) is all a test needs to drive it.
public final class ProgressReporter<C: Clock>: Sendable where C.Duration == Duration {
    public enum Style: Sendable, Equatable {
        /// One line redrawn in place (carriage return, erase to the end of the line) every second.
        case terminal
        /// A line of its own every 10 s: redrawing would fill a file with control characters.
        case plain
        /// Nothing.
        case quiet

        /// `quiet` when asked, else `terminal` when standard error is one, else `plain`.
        public static func choose(quiet: Bool, terminal: Bool) -> Style {
            quiet ? .quiet : terminal ? .terminal : .plain
        }

        /// The time between two lines.
        var interval: Duration { self == .terminal ? .seconds(1) : .seconds(10) }
    }

    public let style: Style
    let unit: String
    let clock: C
    let write: @Sendable (String) -> Void
    private struct State {
        var start: C.Instant
        var lastLine: C.Instant
        /// Whether a terminal line is on the screen (``finish()`` erases it).
        var drawn = false
    }
    private let state: Mutex<State>

    /// - Parameters:
    ///   - unit: what `count` counts, plural (`messages`, `labels`).
    ///   - write: where lines go; standard error in the commands.
    public init(style: Style, unit: String, clock: C, write: @escaping @Sendable (String) -> Void) {
        self.style = style
        self.unit = unit
        self.clock = clock
        self.write = write
        let now = clock.now
        state = Mutex(State(start: now, lastLine: now))
    }

    /// Draws `progress` if a line is due (the first one interval after the start: a command that
    /// finishes sooner shows none).
    public func report(_ progress: WorkProgress) {
        guard style != .quiet else { return }
        let now = clock.now
        let elapsed: Duration? = state.withLock { state in
            guard state.lastLine.duration(to: now) >= style.interval else { return nil }
            state.lastLine = now
            state.drawn = style == .terminal
            return state.start.duration(to: now)
        }
        guard let elapsed else { return }
        let line = Self.line(progress, unit: unit, elapsed: elapsed)
        write(style == .terminal ? "\r\u{1B}[K" + line : line + "\n")
    }

    /// Erases the terminal line, if one is drawn, so the command's own output starts clean.
    public func finish() {
        let drawn = state.withLock { state in
            defer { state.drawn = false }
            return state.drawn
        }
        if drawn { write("\r\u{1B}[K") }
    }

    /// Reports `sample()` every second until the task is cancelled; for commands whose work runs
    /// elsewhere (a pipeline, a socket).
    public func run(sample: @Sendable () -> WorkProgress) async {
        guard style != .quiet else { return }
        while true {
            do { try await clock.sleep(for: .seconds(1)) } catch { return }
            report(sample())
        }
    }

    /// One line: the count and its rate, the bytes and theirs, and with a total the percentage and
    /// the time left at the average rate so far.
    static func line(_ progress: WorkProgress, unit: String, elapsed: Duration) -> String {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        var parts = ["\(progress.count) \(unit)" + (seconds > 0 ? " (\(Int(Double(progress.count) / seconds))/s)" : "")]
        if let bytes = progress.bytes {
            var text = megabytes(bytes)
            if let total = progress.totalBytes { text += " of " + megabytes(total) }
            if seconds > 0 { text += " (" + megabytes(Int64(Double(bytes) / seconds)) + "/s)" }
            parts.append(text)
        }
        if let fraction = progress.fraction {
            // The epsilon keeps 0.29 × 100 = 28.999… from showing as 28%.
            parts.append("\(Int((fraction * 100 + 1e-9).rounded(.down)))%")
            if fraction > 0 && seconds > 0 {
                parts.append("ETA " + duration(seconds * (1 - fraction) / fraction))
            }
        }
        return parts.joined(separator: ", ")
    }

    /// `512.3 MB` (10^6 bytes, as disks and networks count).
    static func megabytes(_ bytes: Int64) -> String {
        let tenths = Int64((Double(bytes) / 100_000).rounded())
        return "\(tenths / 10).\(tenths % 10) MB"
    }

    /// `42s`, `3m05s`, `2h07m`.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "unknown" }
        let whole = Int(seconds.rounded())
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        if whole < 60 { return "\(whole)s" }
        if whole < 3600 { return "\(whole / 60)m\(two(whole % 60))s" }
        return "\(whole / 3600)h\(two(whole % 3600 / 60))m"
    }
}
