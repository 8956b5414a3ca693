import Synchronization
import Testing

@testable import Labeler

/// A clock that moves only when told to, so a test decides when a progress line is due.
final class ManualClock: Clock, Sendable {
    struct Instant: InstantProtocol {
        var offset: Duration
        func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        func duration(to other: Instant) -> Duration { other.offset - offset }
        static func < (a: Instant, b: Instant) -> Bool { a.offset < b.offset }
    }

    private let current = Mutex(Instant(offset: .zero))
    var now: Instant { current.withLock { $0 } }
    var minimumResolution: Duration { .zero }

    func advance(by duration: Duration) { current.withLock { $0 = $0.advanced(by: duration) } }

    /// Not used by these tests: the reporter is driven through `report`.
    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        Issue.record("ManualClock.sleep is not meant to be called")
        throw CancellationError()
    }
}

@Suite struct ProgressReporterTests {
    final class Output: Sendable {
        let written = Mutex<[String]>([])
        var lines: [String] { written.withLock { $0 } }
        var write: @Sendable (String) -> Void { { text in self.written.withLock { $0.append(text) } } }
    }

    @Test func onATerminalTheLineIsRedrawnEachSecondAndErasedAtTheEnd() {
        let clock = ManualClock()
        let output = Output()
        let reporter = ProgressReporter(style: .terminal, unit: "messages", clock: clock, write: output.write)
        reporter.report(WorkProgress(count: 10))
        #expect(output.lines.isEmpty, "nothing in the first second: a quick command shows no line")
        clock.advance(by: .milliseconds(999))
        reporter.report(WorkProgress(count: 10))
        #expect(output.lines.isEmpty)
        clock.advance(by: .milliseconds(1))
        reporter.report(WorkProgress(count: 1_000, bytes: 2_000_000, totalBytes: 8_000_000))
        #expect(output.lines == ["\r\u{1B}[K1000 messages (1000/s), 2.0 MB of 8.0 MB (2.0 MB/s), 25%, ETA 3s"])
        reporter.report(WorkProgress(count: 1_001))
        #expect(output.lines.count == 1, "at most one line a second")
        clock.advance(by: .seconds(1))
        reporter.report(WorkProgress(count: 3_000, bytes: 4_000_000, totalBytes: 8_000_000))
        #expect(output.lines.last == "\r\u{1B}[K3000 messages (1500/s), 4.0 MB of 8.0 MB (2.0 MB/s), 50%, ETA 2s")
        reporter.finish()
        #expect(output.lines.last == "\r\u{1B}[K")
        reporter.finish()
        #expect(output.lines.count == 3, "erased once")
    }

    @Test func elsewhereALineOfItsOwnEveryTenSecondsWithoutControlCharacters() {
        let clock = ManualClock()
        let output = Output()
        let reporter = ProgressReporter(style: .plain, unit: "labels", clock: clock, write: output.write)
        clock.advance(by: .seconds(9))
        reporter.report(WorkProgress(count: 90, totalCount: 1_000))
        #expect(output.lines.isEmpty)
        clock.advance(by: .seconds(1))
        reporter.report(WorkProgress(count: 100, totalCount: 1_000))
        clock.advance(by: .seconds(5))
        reporter.report(WorkProgress(count: 150, totalCount: 1_000))
        clock.advance(by: .seconds(5))
        reporter.report(WorkProgress(count: 200, totalCount: 1_000))
        #expect(output.lines == ["100 labels (10/s), 10%, ETA 1m30s\n", "200 labels (10/s), 20%, ETA 1m20s\n"])
        reporter.finish()
        #expect(output.lines.count == 2, "nothing to erase")
    }

    @Test func quietWritesNothing() {
        let clock = ManualClock()
        let output = Output()
        let reporter = ProgressReporter(style: .quiet, unit: "events", clock: clock, write: output.write)
        for _ in 0..<30 {
            clock.advance(by: .seconds(1))
            reporter.report(WorkProgress(count: 5))
        }
        reporter.finish()
        #expect(output.lines.isEmpty)
    }

    @Test func theStyleFollowsQuietThenTheTerminal() {
        typealias Style = ProgressReporter<ManualClock>.Style
        #expect(Style.choose(quiet: true, terminal: true) == .quiet)
        #expect(Style.choose(quiet: true, terminal: false) == .quiet)
        #expect(Style.choose(quiet: false, terminal: true) == .terminal)
        #expect(Style.choose(quiet: false, terminal: false) == .plain)
    }

    @Test func withoutATotalThereIsNoPercentageOrETA() {
        let line = ProgressReporter<ManualClock>.line(
            WorkProgress(count: 500, bytes: 1_250_000), unit: "events", elapsed: .seconds(2))
        #expect(line == "500 events (250/s), 1.3 MB (0.6 MB/s)")
    }

    @Test func thePercentageIsByBytesWhenBothTotalsAreKnownAndStopsAtAHundred() {
        #expect(WorkProgress(count: 10, bytes: 30, totalCount: 100, totalBytes: 60).fraction == 0.5)
        #expect(WorkProgress(count: 10, totalCount: 100).fraction == 0.1)
        #expect(WorkProgress(count: 120, totalCount: 100).fraction == 1)
        #expect(WorkProgress(count: 0, totalCount: 0).fraction == nil)
        #expect(WorkProgress(count: 5).fraction == nil)
        // Nothing done yet: a percentage, but no time left to promise.
        let line = ProgressReporter<ManualClock>.line(
            WorkProgress(count: 0, totalCount: 10), unit: "labels", elapsed: .seconds(1))
        #expect(line == "0 labels (0/s), 0%")
    }

    @Test(arguments: [
        (0.2, "0s"), (42.0, "42s"), (59.5, "1m00s"), (185.0, "3m05s"), (7_620.0, "2h07m"), (Double.infinity, "unknown"),
    ])
    func timesLeft(seconds: Double, expected: String) {
        #expect(ProgressReporter<ManualClock>.duration(seconds) == expected)
    }

    @Test(arguments: [(Int64(0), "0.0 MB"), (49_999, "0.0 MB"), (50_000, "0.1 MB"), (512_345_678, "512.3 MB")])
    func megabytes(bytes: Int64, expected: String) {
        #expect(ProgressReporter<ManualClock>.megabytes(bytes) == expected)
    }
}
