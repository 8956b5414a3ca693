import Testing

@testable import LabelServer

@Suite struct MetricsRegistryTests {
    @Test func rendersFamiliesWithHelpTypeAndEscapedLabels() {
        let registry = MetricsRegistry()
        registry.counter("events_total", help: "Events read, by type.", labels: ["type": "commit"]) { 12 }
        registry.counter("events_total", help: "Events read, by type.", labels: ["type": "identity"]) { 3 }
        registry.gauge("relay_lag_seconds", help: "Seconds behind.\nSecond line \\ backslash") { 1.5 }
        registry.counterFamily("rule_hits_total", help: "Matches by rule.", labelNames: ["rule"]) {
            [.init(labels: ["crypto \"giveaway\""], value: 2), .init(labels: ["line\nbreak\\"], value: 1)]
        }
        registry.gauge("queue_depth", help: "Queued.") { .nan }
        #expect(
            registry.render() == """
                # HELP events_total Events read, by type.
                # TYPE events_total counter
                events_total{type="commit"} 12
                events_total{type="identity"} 3
                # HELP queue_depth Queued.
                # TYPE queue_depth gauge
                queue_depth NaN
                # HELP relay_lag_seconds Seconds behind.\\nSecond line \\\\ backslash
                # TYPE relay_lag_seconds gauge
                relay_lag_seconds 1.5
                # HELP rule_hits_total Matches by rule.
                # TYPE rule_hits_total counter
                rule_hits_total{rule="crypto \\"giveaway\\""} 2
                rule_hits_total{rule="line\\nbreak\\\\"} 1

                """)
    }

    @Test func readsAtScrapeTime() {
        let registry = MetricsRegistry()
        let box = Box()
        registry.counter("n_total", help: "n") { Double(box.value) }
        box.value = 5
        #expect(registry.render().hasSuffix("n_total 5\n"))
    }

    @Test func refusesBadNamesAndConflictingRegistrations() {
        let registry = MetricsRegistry()
        #expect(throws: MetricsRegistry.RegistrationError.self) {
            try registry.checkedRegister("1bad", kind: .counter, help: "", source: .single(labels: [], read: { 0 }))
        }
        #expect(throws: MetricsRegistry.RegistrationError.self) {
            try registry.checkedRegister(
                "ok", kind: .counter, help: "", source: .single(labels: [("bad-label", "x")], read: { 0 }))
        }
        registry.counter("twice", help: "h") { 1 }
        #expect(throws: MetricsRegistry.RegistrationError.self) {
            try registry.checkedRegister("twice", kind: .gauge, help: "h", source: .single(labels: [], read: { 0 }))
        }
    }

    @Test func formatsValues() {
        #expect(PrometheusText.formatValue(3) == "3")
        #expect(PrometheusText.formatValue(-2) == "-2")
        #expect(PrometheusText.formatValue(0.25) == "0.25")
        #expect(PrometheusText.formatValue(.infinity) == "+Inf")
        #expect(PrometheusText.formatValue(-.infinity) == "-Inf")
    }
}

final class Box: @unchecked Sendable {
    var value = 0
}
