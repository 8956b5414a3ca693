import Foundation
import GRDB
import SeededRandom
import SyntheticFirehose
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
        var generator = SyntheticFirehose(seed: 0xB0D6, accounts: 30)
        let messages = generator.messages(3_000)
        let lastSeq = generator.seq
        let relay = try await TestRelay(messages: messages)
        defer { Task { await relay.stop() } }
        let cursorName = "relay 127.0.0.1:\(relay.port)"

        // With no budget: the labels and history to expect.
        let reference = try CrashTests.makeFolder(relay: relay, name: "budget-reference")
        let run = try ServiceProcess(
            ["run"], in: reference.folder, environment: reference.environment, log: reference.folder + "/log")
        let done = await eventually(timeout: .seconds(180)) {
            CrashTests.storedCursor(reference.folder + "/labels.sqlite", cursorName: cursorName) == lastSeq
        }
        #expect(done, "the run without a budget did not finish: \(run.logText.suffix(2000))")
        run.signal(SIGTERM)
        #expect(await run.wait(timeout: .seconds(60)) == 0, "\(run.logText.suffix(2000))")
        let expected = try CrashTests.snapshot(reference.folder + "/labels.sqlite", cursorName: cursorName)
        #expect(expected.history.count > 100, "the rules should label a good part of the capture")

        // A budget that lets out about an eighth of the labels a second: the queue holds most of
        // them for several seconds, so the kills land while it drains.
        let perSecond = max(10, expected.history.count / 8)
        var crashed = try CrashTests.makeFolder(relay: relay, name: "budget-crashed")
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
                    || CrashTests.storedCursor(database, cursorName: cursorName) == lastSeq
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

        let last = try ServiceProcess(
            ["run"], in: crashed.folder, environment: crashed.environment, log: crashed.folder + "/log")
        let finished = await eventually(timeout: .seconds(240)) {
            CrashTests.storedCursor(database, cursorName: cursorName) == lastSeq && Self.queued(database) == 0
        }
        #expect(finished, "\(last.logText.suffix(2000))")
        last.signal(SIGTERM)
        #expect(await last.wait(timeout: .seconds(60)) == 0, "\(last.logText.suffix(3000))")

        let actual = try CrashTests.snapshot(database, cursorName: cursorName)
        #expect(
            actual.labels == expected.labels,
            "labels differ: missing \(Set(expected.labels).subtracting(actual.labels).prefix(5)), extra \(Set(actual.labels).subtracting(expected.labels).prefix(5))"
        )
        #expect(
            actual.history == expected.history,
            "history differs: \(actual.history.count) entries, expected \(expected.history.count)")
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
