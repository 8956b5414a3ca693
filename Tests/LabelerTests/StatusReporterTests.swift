import Foundation
import Logging
import TestSupport
import Testing

@testable import Labeler

@Suite struct StatusReporterTests {
    typealias Sample = StatusReporter<ContinuousClock>.Sample

    @Test func aLineHasTheRateTheLagTheLabelsAndTheErrors() {
        let previous = Sample(events: 1_000, labels: 10, errors: 1, lagSeconds: 3, cursor: 500)
        let current = Sample(events: 13_000, labels: 25, errors: 4, lagSeconds: 0.84, cursor: 12_345)
        let fields = StatusReporter<ContinuousClock>.metadata(
            previous: previous, current: current, elapsed: .seconds(60))
        #expect(fields["events_per_second"] == "200.0")
        #expect(fields["lag_seconds"] == "0.8")
        #expect(fields["cursor"] == "12345")
        #expect(fields["labels"] == "25" && fields["new_labels"] == "15")
        #expect(fields["errors"] == "4" && fields["new_errors"] == "3")
    }

    @Test func beforeTheFirstEventThereIsNoLagAndNoCursor() {
        let nothing = Sample(events: 0, labels: 0, errors: 0, lagSeconds: nil, cursor: nil)
        let fields = StatusReporter<ContinuousClock>.metadata(
            previous: nothing, current: nothing, elapsed: .seconds(60))
        #expect(fields["events_per_second"] == "0.0" && fields["lag_seconds"] == "none" && fields["cursor"] == "none")
        // No time passed (a clock that did not move): no division by zero.
        let still = StatusReporter<ContinuousClock>.metadata(previous: nothing, current: nothing, elapsed: .zero)
        #expect(still["events_per_second"] == "0.0")
    }

    @Test(arguments: [(0.0, 1, "0.0"), (2.25, 1, "2.3"), (-0.04, 1, "0.0"), (-1.26, 1, "-1.3"), (12.0, 0, "12")])
    func decimals(value: Double, digits: Int, expected: String) {
        #expect(StatusReporter<ContinuousClock>.decimal(value, digits) == expected)
    }

    /// The service logs a line each interval, from fresh samples, until it is cancelled.
    @Test func itLogsEveryIntervalUntilCancelled() async throws {
        let written = Locked<[String]>([])
        let logger = Logger(label: "labeler") { label in
            JSONLogHandler(label: label, write: { line in written.withLock { $0.append(line) } })
        }
        let events = Locked(0)
        let reporter = StatusReporter(interval: .milliseconds(20), clock: ContinuousClock(), logger: logger) {
            let count = events.withLock { count in
                count += 100
                return count
            }
            return Sample(events: count, labels: count / 100, errors: 0, lagSeconds: 0.5, cursor: Int64(count))
        }
        let task = Task { try await reporter.run() }
        try await waitUntil("three status lines") { written.value.count >= 3 }
        task.cancel()
        // Cancelled, it returns (rather than throwing or running on).
        try await task.value
        let lines = written.value
        for line in lines {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(object["msg"] as? String == "status")
            #expect(object["new_labels"] as? String == "1", "each line covers one sample's change")
            #expect(object["lag_seconds"] as? String == "0.5")
        }
    }
}
