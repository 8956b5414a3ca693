import Metrics
import Prometheus

/// Where swift-metrics' metrics go: a Prometheus registry, shown at `/metrics` after the
/// pull-based ``MetricsRegistry``'s families.
///
/// The two live side by side because they suit different things. Counters and gauges that code
/// already keeps (an atomic, a field under a lock it takes anyway) are read at scrape time by
/// ``MetricsRegistry`` and cost the hot path nothing. Distributions (how long commits take, how
/// long after its event a label went out, how long each HTTP route answers) need a histogram
/// updated as things happen: those are swift-metrics `Timer`s, which Hummingbird's
/// `MetricsMiddleware` uses too.
///
/// swift-metrics has one backend per process and it can be set only once, so it is set here,
/// on first use, by whatever serves `/metrics`; until then (replay, one-off commands) every
/// `Timer` records nowhere, at the cost of a no-op call.
public enum MetricsBackend {
    /// The registry behind swift-metrics, set up on first use.
    public static let prometheus: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = durationBuckets
        MetricsSystem.bootstrap(factory)
        return registry
    }()

    /// From half a millisecond (a commit on a quiet disk, a cached query) to half a minute (a
    /// label held by a slow relay or a full queue).
    public static let durationBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .microseconds(2_500), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2_500), .seconds(5), .seconds(10), .seconds(30),
    ]

    /// Sets swift-metrics' backend, if it is not set yet.
    public static func start() { _ = prometheus }

    /// The histograms and swift-metrics' other metrics in the text format.
    public static func render() -> String { prometheus.emitToString() }
}
