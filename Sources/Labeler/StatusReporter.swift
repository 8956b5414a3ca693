import Logging
import ServiceLifecycle

/// A line in the log every `interval` while `labeler run` runs, so a journal shows at a glance
/// whether the labeler keeps up — without a Prometheus server:
///
/// ```
/// info labeler: cursor=123456 errors=0 events_per_second=412.5 lag_seconds=0.8 labels=96 new_errors=0 new_labels=3 [Labeler] status
/// ```
///
/// Rates and `new_*` counts cover the time since the previous line (the first line: since the
/// start); `labels` and `errors` are totals since the start.
public struct StatusReporter<C: Clock>: Service where C.Duration == Duration {
    /// The counters one line is made from, read from the running service.
    public struct Sample: Sendable, Equatable {
        /// Events handled since the start.
        public var events: Int
        /// Label rows written since the start.
        public var labels: Int
        /// Events that failed, were rejected or did not decode, and rule failures, since the start.
        public var errors: Int
        /// Seconds between now and the newest event handled; nil before the first.
        public var lagSeconds: Double?
        /// The low-water mark (every event at or below it is handled); nil before the first.
        public var cursor: Int64?

        public init(events: Int, labels: Int, errors: Int, lagSeconds: Double?, cursor: Int64?) {
            self.events = events
            self.labels = labels
            self.errors = errors
            self.lagSeconds = lagSeconds
            self.cursor = cursor
        }
    }

    let interval: Duration
    let clock: C
    let sample: @Sendable () -> Sample
    let logger: Logger

    /// - Parameters:
    ///   - interval: the time between two lines (60 s in `labeler run`; `log.status_interval`).
    ///   - sample: reads the counters; called once per line.
    public init(interval: Duration, clock: C, logger: Logger, sample: @escaping @Sendable () -> Sample) {
        precondition(interval > .zero, "a status interval must be positive")
        self.interval = interval
        self.clock = clock
        self.sample = sample
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var previous = sample()
            var since = clock.now
            while true {
                do { try await clock.sleep(for: interval) } catch { return }
                let now = clock.now
                let current = sample()
                logger.info(
                    "status",
                    metadata: Self.metadata(previous: previous, current: current, elapsed: since.duration(to: now)))
                previous = current
                since = now
            }
        }
    }

    /// The line's fields, from two samples `elapsed` apart.
    static func metadata(previous: Sample, current: Sample, elapsed: Duration) -> Logger.Metadata {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let events = current.events - previous.events
        let rate = seconds > 0 ? Double(events) / seconds : 0
        return [
            "events_per_second": "\(decimal(rate, 1))",
            "lag_seconds": "\(current.lagSeconds.map { decimal($0, 1) } ?? "none")",
            "cursor": "\(current.cursor.map(String.init) ?? "none")",
            "labels": "\(current.labels)", "new_labels": "\(current.labels - previous.labels)",
            "errors": "\(current.errors)", "new_errors": "\(current.errors - previous.errors)",
        ]
    }

    /// `value` with `digits` decimals (no Foundation formatter on the logging path).
    static func decimal(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return "none" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = Int((abs(value) * scale).rounded())
        let whole = scaled / Int(scale)
        let fraction = String(scaled % Int(scale))
        let sign = value < 0 && scaled != 0 ? "-" : ""
        return sign + "\(whole)"
            + (digits > 0 ? "." + String(repeating: "0", count: digits - fraction.count) + fraction : "")
    }
}
