import Synchronization

/// A pull-based Prometheus registry: every metric is a closure read when `/metrics` is scraped.
///
/// Code that counts things keeps its own cheap counters (an atomic, a field under a lock it
/// already takes) and registers a closure that reads them, so a hot path never touches the
/// registry. Metrics with the same name form one family and are rendered under one `# HELP` and
/// `# TYPE`; a family whose label values are only known at scrape time (rule ids, label values)
/// registers one closure returning all its samples.
///
/// ```
/// let registry = MetricsRegistry()
/// registry.counter("labeler_events_total", help: "Events read, by type.", labels: ["type": "commit"]) {
///     Double(metrics.commits.load(ordering: .relaxed))
/// }
/// registry.gaugeFamily("labeler_rule_hits", help: "Matches by rule.", labelNames: ["rule"]) {
///     ruleHits.map { Sample(labels: [$0.key], value: Double($0.value)) }
/// }
/// print(registry.render())
/// ```
public final class MetricsRegistry: Sendable {
    public enum Kind: String, Sendable {
        /// Only ever goes up (resets to zero when the process restarts).
        case counter
        /// Goes up and down.
        case gauge
    }

    /// One value of a family whose label values are known only at scrape time.
    public struct Sample: Sendable {
        /// Values for the family's label names, in the same order.
        public var labels: [String]
        public var value: Double

        public init(labels: [String], value: Double) {
            self.labels = labels
            self.value = value
        }
    }

    /// A metric name or label name that Prometheus would reject, or a second registration of a
    /// name with another type or help text.
    public struct RegistrationError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    struct Family: Sendable {
        let name: String
        let kind: Kind
        let help: String
        var sources: [Source]
    }

    enum Source: Sendable {
        case single(labels: [(String, String)], read: @Sendable () -> Double)
        case many(labelNames: [String], read: @Sendable () -> [Sample])
    }

    private let families = Mutex<[Family]>([])

    public init() {}

    /// Registers a counter read by `read` at scrape time.
    public func counter(
        _ name: String, help: String, labels: KeyValuePairs<String, String> = [:],
        read: @escaping @Sendable () -> Double
    ) {
        register(name, kind: .counter, help: help, source: .single(labels: Array(labels), read: read))
    }

    /// Registers a gauge read by `read` at scrape time.
    public func gauge(
        _ name: String, help: String, labels: KeyValuePairs<String, String> = [:],
        read: @escaping @Sendable () -> Double
    ) {
        register(name, kind: .gauge, help: help, source: .single(labels: Array(labels), read: read))
    }

    /// Registers a counter family whose samples (one per label-value combination) come from `read`.
    public func counterFamily(
        _ name: String, help: String, labelNames: [String], read: @escaping @Sendable () -> [Sample]
    ) {
        register(name, kind: .counter, help: help, source: .many(labelNames: labelNames, read: read))
    }

    /// Registers a gauge family whose samples (one per label-value combination) come from `read`.
    public func gaugeFamily(
        _ name: String, help: String, labelNames: [String], read: @escaping @Sendable () -> [Sample]
    ) {
        register(name, kind: .gauge, help: help, source: .many(labelNames: labelNames, read: read))
    }

    /// Registration happens once, at start-up, with names written in the code: a bad name is a
    /// programming error, so it stops the process with a message saying which.
    private func register(_ name: String, kind: Kind, help: String, source: Source) {
        do {
            try checkedRegister(name, kind: kind, help: help, source: source)
        } catch {
            preconditionFailure(error.description)
        }
    }

    func checkedRegister(_ name: String, kind: Kind, help: String, source: Source) throws(RegistrationError) {
        guard PrometheusText.isValidMetricName(name) else {
            throw RegistrationError(description: "invalid metric name \"\(name)\"")
        }
        let labelNames: [String] =
            switch source {
            case .single(let labels, _): labels.map(\.0)
            case .many(let names, _): names
            }
        for label in labelNames where !PrometheusText.isValidLabelName(label) {
            throw RegistrationError(description: "metric \(name): invalid label name \"\(label)\"")
        }
        try families.withLock { (families: inout [Family]) throws(RegistrationError) in
            if let i = families.firstIndex(where: { $0.name == name }) {
                guard families[i].kind == kind, families[i].help == help else {
                    throw RegistrationError(description: "metric \(name) registered twice with another type or help")
                }
                families[i].sources.append(source)
            } else {
                families.append(Family(name: name, kind: kind, help: help, sources: [source]))
            }
        }
    }

    /// The text exposition format (version 0.0.4) of every registered metric, families sorted by
    /// name so scrapes are easy to compare.
    public func render() -> String {
        let snapshot = families.withLock { $0 }.sorted { $0.name < $1.name }
        var out = ""
        out.reserveCapacity(snapshot.count * 128)
        for family in snapshot {
            out += "# HELP \(family.name) \(PrometheusText.escapeHelp(family.help))\n"
            out += "# TYPE \(family.name) \(family.kind.rawValue)\n"
            for source in family.sources {
                switch source {
                case .single(let labels, let read):
                    PrometheusText.appendSample(name: family.name, labels: labels, value: read(), to: &out)
                case .many(let names, let read):
                    for sample in read() where sample.labels.count == names.count {
                        PrometheusText.appendSample(
                            name: family.name, labels: Array(zip(names, sample.labels)), value: sample.value, to: &out)
                    }
                }
            }
        }
        return out
    }

    /// The `Content-Type` of `render()`'s output.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"
}
