import Foundation
import GRDB
import SeededRandom
import TestRelay
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `labeler run` under a global budget (`limits.labels_per_second`), killed with SIGKILL at
/// random moments while labels wait in its queue: once the queue has drained it must hold
/// exactly the labels and history of a run with no budget at all.
@Suite(.serialized) struct GlobalBudgetCrashTests {
    static func queued(_ path: String) -> Int? {
        guard FileManager.default.fileExists(atPath: path), let queue = try? DatabaseQueue(path: path) else {
            return nil
        }
        defer { try? queue.close() }
        return try? queue.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM label_queue") }
    }

    @Test(.timeLimit(.minutes(6))) func killedWhileLabelsWaitItLosesAndDuplicatesNothing() async throws {
        let capture = try await CrashCapture(seed: 0xB0D6, accounts: 30, messages: 3_000)
        defer { Task { await capture.relay.stop() } }
        let lastSeq = capture.lastSeq

        // With no budget: the labels and history to expect.
        let reference = try CrashTests.makeFolder(relay: capture.relay, name: "budget-reference")
        let expected = try await capture.runToTheEnd(
            in: reference.folder, environment: reference.environment, timeout: .seconds(180))
        #expect(expected.history.count > 100, "the rules should label a good part of the capture")

        // A budget that lets out about an eighth of the labels a second: the queue holds most of
        // them for several seconds, so the kills land while it drains.
        let perSecond = max(10, expected.history.count / 8)
        var crashed = try CrashTests.makeFolder(relay: capture.relay, name: "budget-crashed")
        crashed.environment["LABELER_LIMITS_LABELS_PER_SECOND"] = "\(perSecond)"
        let database = crashed.folder + "/labels.sqlite"
        var random = SplitMix64(seed: 0xB00)
        var killsWhileQueued = 0
        for attempt in 0..<12 where killsWhileQueued < 4 {
            let child = try ServiceProcess(
                ["run"], in: crashed.folder, environment: crashed.environment, log: crashed.folder + "/log")
            // Until the queue has something in it (or the run is done), then a random moment.
            _ = await eventually(timeout: .seconds(60)) {
                (Self.queued(database) ?? 0) > 0
                    || capture.storedCursor(database) == lastSeq
            }
            let delay = 50 + Int(random.next() % 1_500)
            try await Task.sleep(for: .milliseconds(delay))
            child.signal(SIGKILL)
            #expect(await child.wait(timeout: .seconds(30)) != nil)
            let waiting = Self.queued(database) ?? 0
            if waiting > 0 { killsWhileQueued += 1 }
            print("kill \(attempt + 1) after \(delay) ms: \(waiting) queued")
        }
        #expect(killsWhileQueued >= 3, "the kills should land while labels wait")

        let actual = try await capture.runToTheEnd(
            in: crashed.folder, environment: crashed.environment, timeout: .seconds(240),
            until: { capture.storedCursor(database) == lastSeq && Self.queued(database) == 0 })
        CrashCapture.expectSame(actual, as: expected)
        // The budget held: no second of the writer's clock sent more labels than it allows.
        let queue = try DatabaseQueue(path: database)
        let busiest = try await queue.read { db in
            try Int.fetchOne(
                db,
                sql: "SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM label_history GROUP BY substr(created_at, 1, 19))")
        }
        #expect((busiest ?? 0) <= perSecond)
    }
}
