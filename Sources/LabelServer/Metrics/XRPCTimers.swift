import Metrics

/// `labeler_xrpc_request_duration_seconds{method}`: how long each XRPC method takes to answer,
/// as a histogram. Every method is served by one route (`/xrpc/**`), so the HTTP middleware's
/// per-route histogram cannot tell queryLabels from createReport; this one can. Methods the
/// labeler does not serve share `other`, so a client asking for made-up names cannot grow the
/// metric without bound.
enum XRPCTimers {
    static let methods = [
        HTTPRoutes.queryLabels, HTTPRoutes.subscribeLabels, HTTPRoutes.emitEvent, HTTPRoutes.createReport,
        HTTPRoutes.health,
    ]
    static let label = "labeler_xrpc_request_duration_seconds"
    private static let timers: [String: Metrics.Timer] = Dictionary(
        uniqueKeysWithValues: methods.map { ($0, Metrics.Timer(label: label, dimensions: [("method", $0)])) })
    private static let other = Metrics.Timer(label: label, dimensions: [("method", "other")])

    static func timer(for nsid: String) -> Metrics.Timer { timers[nsid] ?? other }

    /// Makes every method's histogram now, so `/metrics` lists them (at zero) before the first
    /// request, and dashboards and alerts find them.
    static func register() { _ = timers.count + (other.label.isEmpty ? 0 : 1) }
}
