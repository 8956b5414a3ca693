import Foundation
import LabelServer
import TestSupport
import Testing

@testable import Labeler

/// `docs/grafana/labeler.json` asks only for metrics `labeler run` serves: a renamed metric
/// breaks this test, not an operator's dashboard.
@Suite struct GrafanaDashboardTests {
    static let dashboard = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/grafana/labeler.json")

    @Test func everyMetricTheDashboardQueriesIsServed() throws {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.dashboard)) as? [String: Any]
        let panels = try #require(json?["panels"] as? [[String: Any]])
        let expressions = panels.flatMap {
            ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String }
        }
        #expect(expressions.count >= 14)
        let pattern = try NSRegularExpression(pattern: "labeler_[a-z_]+")
        var names: Set<String> = []
        for expression in expressions {
            let range = NSRange(expression.startIndex..., in: expression)
            for match in pattern.matches(in: expression, range: range) {
                var name = String(expression[Range(match.range, in: expression)!])
                if name.hasSuffix("_bucket") { name.removeLast("_bucket".count) }
                names.insert(name)
            }
        }
        #expect(names.contains("labeler_writer_commit_duration_seconds"))

        // Everything `labeler run` serves at /metrics, with reports on (their metrics too).
        var configuration = try LabelerServiceTests.configuration()
        configuration.reportsEnabled = true
        configuration.did = "did:plc:dashboardtest"
        let service = try LabelerService(configuration: configuration, environment: [:], logger: quietLogger())
        let served = service.metrics.render() + MetricsBackend.render()
        for name in names.sorted() {
            #expect(served.contains("# TYPE \(name) "), "\(name) is on the dashboard but not served")
        }
    }
}
