import Foundation
import SyntheticFirehose
import TestRelay
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What a crash test runs `labeler run` over: a synthetic capture served by an in-process relay,
/// with the seq a run's cursor ends at and the name it is stored under. The caller stops the
/// relay (`defer { Task { await capture.relay.stop() } }`).
struct CrashCapture {
    let relay: TestRelay
    /// The seq of the capture's last message: the stored cursor once a run handled everything.
    let lastSeq: Int64
    /// The name the service stores the relay's cursor under.
    let cursorName: String

    /// `count` messages of `SyntheticFirehose(seed:accounts:)`, served by a new relay.
    init(seed: UInt64, accounts: Int, messages count: Int) async throws {
        var generator = SyntheticFirehose(seed: seed, accounts: accounts)
        let messages = generator.messages(count)
        lastSeq = generator.seq
        relay = try await TestRelay(messages: messages)
        cursorName = "relay 127.0.0.1:\(relay.port)"
    }

    /// The cursor stored in the database at `path`, nil when there is none (yet).
    func storedCursor(_ path: String) -> Int64? { CrashTests.storedCursor(path, cursorName: cursorName) }

    /// What the database at `path` holds.
    func snapshot(_ path: String) throws -> CrashTests.Snapshot {
        try CrashTests.snapshot(path, cursorName: cursorName)
    }

    /// Runs `labeler run` in `folder` until `finished` holds (by default: its cursor reached the
    /// capture's end) or `timeout` passes, and expects the former; then calls `beforeStop`,
    /// stops the run with SIGTERM, expects it to exit 0, and returns what its database holds.
    func runToTheEnd(
        in folder: String, environment: [String: String], timeout: Duration, until finished: (() -> Bool)? = nil,
        beforeStop: (ServiceProcess) async throws -> Void = { _ in },
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> CrashTests.Snapshot {
        let database = folder + "/labels.sqlite"
        let run = try ServiceProcess(["run"], in: folder, environment: environment, log: folder + "/log")
        let done = await eventually(timeout: timeout) { finished?() ?? (storedCursor(database) == lastSeq) }
        #expect(done, "the run did not finish: \(run.logText.suffix(2000))", sourceLocation: sourceLocation)
        try await beforeStop(run)
        run.signal(SIGTERM)
        let status = await run.wait(timeout: .seconds(60))
        #expect(
            status == 0,
            "exit status \(status.map(String.init) ?? "none: still running"); log: \(run.logText.suffix(3000))",
            sourceLocation: sourceLocation)
        return try snapshot(database)
    }

    /// Expects a run killed along the way to have stored exactly the labels and history of the
    /// uninterrupted one.
    static func expectSame(
        _ actual: CrashTests.Snapshot, as expected: CrashTests.Snapshot,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(
            actual.labels == expected.labels,
            "labels differ: missing \(Set(expected.labels).subtracting(actual.labels).prefix(5)), extra \(Set(actual.labels).subtracting(expected.labels).prefix(5))",
            sourceLocation: sourceLocation)
        #expect(
            actual.history == expected.history,
            "history differs: \(actual.history.count) entries, expected \(expected.history.count)",
            sourceLocation: sourceLocation)
    }
}
