import ATCrypto
import Foundation
import GRDB
import Labeler
import SeededRandom
import TestRelay
import TestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

#if canImport(Glibc)
import Glibc
#endif

/// `labeler run` as a real child process against an in-process relay: killed with SIGKILL at
/// random moments and restarted, it must end with exactly the labels and history of one
/// uninterrupted run.
@Suite(.serialized) struct CrashTests {
    /// Rules that label often, label accounts repeatedly, and flip labels on and off (an account
    /// label applied by every post with "coffee" and negated by every post deleted; profiles whose
    /// display name gains and loses "rain"), so a replayed event could undo a later one; and a
    /// threshold, whose counts a replayed event must not bump twice.
    static let rules = """
        rules:
          - id: coffee
            on: [post]
            match: {keywords: [coffee]}
            label: coffee
          - id: tokyo-account
            on: [post]
            match: {keywords: ["東京"]}
            label: tokyo
            subject: account
          - id: rainy-profile
            on: [profile]
            match: {keywords: [rain], in: [display_name]}
            label: rainy
            subject: account
            on_no_match: negate
          - id: garden-post
            on: [post]
            match: {keywords: [garden]}
            label: garden
            on_no_match: negate
          - id: coffee-account
            on: [post]
            match: {keywords: [coffee]}
            label: coffee-drinker
            subject: account
            on_no_match: negate
          - id: coffee-regular
            on: [post]
            match: {rule: coffee}
            threshold: {count: 5, within: 1h}
            label: coffee-regular
            subject: account
        """

    struct Snapshot: Equatable {
        var labels: [String]
        var history: [String]
        var cursor: Int64?
    }

    /// A working folder with the rules and a fixed signing key, and the environment pointing the
    /// service at `relay`.
    static func makeFolder(relay: TestRelay, name: String) throws -> (folder: String, environment: [String: String]) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "labeler-crash-\(name)-\(UUID().uuidString)"
        ).path
        try FileManager.default.createDirectory(atPath: folder + "/rules", withIntermediateDirectories: true)
        try rules.write(toFile: folder + "/rules/crash.yaml", atomically: true, encoding: .utf8)
        let environment = [
            "LABELER_SOURCE_URL": relay.url, "LABELER_STORE_PATH": folder + "/labels.sqlite",
            "LABELER_SIGNING_KEY": folder + "/signing.key", "LABELER_RULES_PATH": folder + "/rules",
            "LABELER_DID": "did:plc:crashtestlabeler",
            // Any free port, in case the service serves HTTP.
            "LABELER_SERVER_PORT": "0",
        ]
        return (folder, environment)
    }

    static func snapshot(_ path: String, cursorName: String) throws -> Snapshot {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { db in
            let labels = try Row.fetchAll(db, sql: "SELECT src, uri, cid, val, neg, exp FROM label").map {
                row -> String in
                let exp: String? = row["exp"]
                let neg: Int64 = row["neg"]
                let fields: [String] = [row["src"], row["uri"], row["cid"], row["val"]]
                return fields.joined(separator: " ") + " neg=\(neg) exp=\(exp ?? "-")"
            }
            let history = try Row.fetchAll(
                db, sql: "SELECT uri, cid, val, action, origin, rule_id, field, snippet FROM label_history"
            ).map { row -> String in
                let names = ["uri", "cid", "val", "action", "origin", "rule_id", "field", "snippet"]
                return names.map { name -> String in
                    let value: String? = row[name]
                    return value ?? "-"
                }.joined(separator: " ")
            }
            let cursor = try Int64.fetchOne(db, sql: "SELECT seq FROM cursor WHERE source = ?", arguments: [cursorName])
            return Snapshot(labels: labels.sorted(), history: history.sorted(), cursor: cursor)
        }
    }

    static func storedCursor(_ path: String, cursorName: String) -> Int64? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try? snapshot(path, cursorName: cursorName).cursor
    }

    /// The port `labeler run` logs once its server listens.
    static func servingPort(_ process: ServiceProcess) async -> Int? {
        var port: Int?
        _ = await eventually(timeout: .seconds(30)) {
            guard let line = process.logText.split(separator: "\n").first(where: { $0.contains("serving labels") }),
                let range = line.range(of: "port=")
            else { return false }
            port = Int(line[range.upperBound...].prefix { $0.isNumber })
            return port != nil
        }
        return port
    }

    static func get(_ url: String) async throws -> (String, Int) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: url)!)
        return (String(decoding: data, as: UTF8.self), (response as? HTTPURLResponse)?.statusCode ?? 0)
    }

    @Test(.timeLimit(.minutes(5))) func killedAtRandomMomentsItLosesAndDuplicatesNothing() async throws {
        let capture = try await CrashCapture(seed: 0xC4A5, accounts: 40, messages: 8_000)
        defer { Task { await capture.relay.stop() } }
        let lastSeq = capture.lastSeq

        // One uninterrupted run, stopped with SIGTERM once it has handled everything.
        let reference = try Self.makeFolder(relay: capture.relay, name: "reference")
        let started = ContinuousClock.now
        var duration = Duration.zero
        let expected = try await capture.runToTheEnd(
            in: reference.folder, environment: reference.environment, timeout: .seconds(180),
            beforeStop: { run in
                duration = ContinuousClock.now - started
                // Everything it stored is served, and every signature verifies against its key.
                let stored = try capture.snapshot(reference.folder + "/labels.sqlite").labels.count
                let port = try #require(await Self.servingPort(run))
                let didKey = try KeyFile.load(at: reference.folder + "/signing.key", defaultType: .secp256k1).publicKey
                    .didKey
                let tail = try ServiceProcess(
                    [
                        "labels", "tail", "http://127.0.0.1:\(port)", "--cursor", "0", "--verify", "--key", didKey,
                        "--limit", "\(stored)",
                    ],
                    in: reference.folder, environment: [:], log: reference.folder + "/tail.log")
                #expect(await tail.wait(timeout: .seconds(60)) == 0, "\(tail.logText.suffix(1000))")
                #expect(tail.logText.contains("\(stored) labels, every signature verified"))
            })
        #expect(expected.cursor == lastSeq)
        #expect(expected.labels.count > 100, "the rules should label a good part of the capture")
        #expect(expected.history.contains { $0.contains(" rainy negate ") }, "some labels should be negated")

        // The same, killed at random moments; each restart resumes from the stored cursor.
        let crashed = try Self.makeFolder(relay: capture.relay, name: "crashed")
        let database = crashed.folder + "/labels.sqlite"
        var random = SplitMix64(seed: 0xDEAD)
        // Short lives, so that many kills land before the work is done even on a busy machine.
        let longest = max(
            200, Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000) / 8)
        var killsBeforeTheEnd = 0
        for attempt in 0..<16 where killsBeforeTheEnd < 6 {
            let child = try ServiceProcess(
                ["run"], in: crashed.folder, environment: crashed.environment, log: crashed.folder + "/log")
            let delay = 100 + Int(random.next() % UInt64(longest))
            try await Task.sleep(for: .milliseconds(delay))
            child.signal(SIGKILL)
            #expect(await child.wait(timeout: .seconds(30)) != nil)
            let cursor = capture.storedCursor(database)
            if cursor != lastSeq { killsBeforeTheEnd += 1 }
            print("kill \(attempt + 1) after \(delay) ms: cursor \(cursor.map(String.init) ?? "none") of \(lastSeq)")
        }
        #expect(killsBeforeTheEnd >= 5, "the kills should interrupt the work, not come after it")

        let actual = try await capture.runToTheEnd(
            in: crashed.folder, environment: crashed.environment, timeout: .seconds(180))
        #expect(actual.cursor == lastSeq)
        CrashCapture.expectSame(actual, as: expected)
    }

    @Test(.timeLimit(.minutes(2))) func runStartsWithDefaultsCreatesItsKeyAndStopsCleanlyOnSIGTERM() async throws {
        let relay = try await TestRelay(messages: [])
        defer { Task { await relay.stop() } }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("labeler-run-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        // No configuration file, no rules folder: every default, but for the relay and the port.
        let child = try ServiceProcess(
            ["run"], in: folder, environment: ["LABELER_SOURCE_URL": relay.url, "LABELER_SERVER_PORT": "0"],
            log: folder + "/log")
        let connected = await eventually(timeout: .seconds(60)) { relay.connections > 0 }
        #expect(connected, "\(child.logText)")
        var info = stat()
        #expect(stat(folder + "/data/signing.key", &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(FileManager.default.fileExists(atPath: folder + "/data/labels.sqlite"))
        // It serves: health, metrics, and XRPC errors for what it does not implement.
        let port = try #require(await Self.servingPort(child), "\(child.logText)")
        let (health, healthStatus) = try await Self.get("http://127.0.0.1:\(port)/xrpc/_health")
        #expect(healthStatus == 200)
        #expect(health.contains("\"status\""), "\(health)")
        // The version the build compiled in, as `labeler --version` prints it.
        #expect(health.contains("\"version\":\"\(LabelerVersion.current)\""), "\(health)")
        let (metrics, metricsStatus) = try await Self.get("http://127.0.0.1:\(port)/metrics")
        #expect(metricsStatus == 200)
        for name in [
            "labeler_source_connections_total", "labeler_scheduler_queue_depth", "labeler_writer_transactions_total",
            "labeler_subscribers",
        ] {
            #expect(metrics.contains("# TYPE \(name) "), "\(name) missing")
        }
        let (_, unknownStatus) = try await Self.get("http://127.0.0.1:\(port)/xrpc/com.example.nothing")
        #expect(unknownStatus == 501)
        child.signal(SIGTERM)
        #expect(await child.wait(timeout: .seconds(30)) == 0, "\(child.logText)")
        #expect(child.logText.contains("labeler stopped"))
    }

    /// Whether `pid` catches `signal` (the `SigCgt` mask of /proc/PID/status). The first thing
    /// `labeler run` does is to catch its stop signals.
    static func handles(_ signal: Int32, pid: pid_t) -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return false }
        let bit = UInt64(1) << UInt64(signal - 1)
        return ["SigCgt:"].contains { name in
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name) }),
                let mask = UInt64(line.dropFirst(name.count).trimmingCharacters(in: .whitespaces), radix: 16)
            else { return false }
            return mask & bit != 0
        }
    }

    /// A stop asked for at any moment of the start (opening the store, compiling the rules,
    /// connecting) ends the process with status 0, never with the signal's default action. A
    /// large keyword list makes the start take a while, so the first stops land in the middle of it.
    @Test(.timeLimit(.minutes(5))) func aStopDuringTheStartExitsCleanly() async throws {
        let relay = try await TestRelay(messages: [])
        defer { Task { await relay.stop() } }
        let rules = FileManager.default.temporaryDirectory.appendingPathComponent(
            "labeler-stop-rules-\(UUID().uuidString)"
        ).path
        try FileManager.default.createDirectory(atPath: rules + "/lists", withIntermediateDirectories: true)
        var random = SplitMix64(seed: 15)
        let letters = Array("abcdefghijklmnopqrstuvwxyz")
        let words = (0..<100_000).map { _ in String((0..<9).map { _ in letters[Int(random.next() % 26)] }) }
        try words.joined(separator: "\n").write(toFile: rules + "/lists/words.txt", atomically: true, encoding: .utf8)
        try "rules:\n  - id: words\n    on: [post]\n    match: {keywords: {file: lists/words.txt}}\n    label: word\n"
            .write(toFile: rules + "/words.yaml", atomically: true, encoding: .utf8)
        var duringTheStart = 0
        for (attempt, delay) in [0, 0, 5, 50, 500].enumerated() {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
                "labeler-stop-\(UUID().uuidString)"
            ).path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let signal = attempt % 2 == 0 ? SIGTERM : SIGINT
            let child = try ServiceProcess(
                ["run"], in: folder,
                environment: [
                    "LABELER_SOURCE_URL": relay.url, "LABELER_SERVER_PORT": "0", "LABELER_RULES_PATH": rules,
                ],
                log: folder + "/log")
            // Before `main` runs no program can catch a signal; from the moment it has, any time is fine.
            let caught = await eventually(timeout: .seconds(60)) {
                !child.process.isRunning
                    || (Self.handles(SIGTERM, pid: child.pid) && Self.handles(SIGINT, pid: child.pid))
            }
            #expect(caught && child.process.isRunning, "\(child.logText)")
            // When the stop comes, not a wait for anything.
            if delay > 0 { try await Task.sleep(for: .milliseconds(delay)) }
            if !child.logText.contains("labeler starting") { duringTheStart += 1 }
            child.signal(signal)
            let status = await child.wait(timeout: .seconds(120))
            #expect(
                status == 0,
                "stop \(signal) after \(delay) ms: status \(status.map(String.init) ?? "none"); \(child.logText.suffix(2000))"
            )
            #expect(child.process.terminationReason == .exit, "killed by the signal after \(delay) ms")
            #expect(child.logText.contains("labeler stopped"))
        }
        #expect(duringTheStart >= 2, "the stops should come while the service is still starting")
    }

    @Test func aBadConfigurationStopsTheStartWithOneLine() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("labeler-bad-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try "scheduler:\n  concurrency: lots\n".write(toFile: folder + "/bad.yaml", atomically: true, encoding: .utf8)
        let child = try ServiceProcess(
            ["run", "--config", "bad.yaml"], in: folder, environment: [:], log: folder + "/log")
        #expect(await child.wait(timeout: .seconds(30)) == 1)
        #expect(
            child.logText.contains("bad.yaml:2:16: scheduler.concurrency: must be a whole number"), "\(child.logText)")
    }

    @Test(.timeLimit(.minutes(2))) func labelAddGoesThroughTheRunningServiceAndFallsBackToTheDatabase() async throws {
        let relay = try await TestRelay(messages: [])
        defer { Task { await relay.stop() } }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("labeler-admin-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let environment = [
            "LABELER_SOURCE_URL": relay.url, "LABELER_SERVER_PORT": "0", "LABELER_DID": "did:plc:adminlabeler",
            "LABELER_SERVER_ADMIN_TOKEN": "a-long-admin-token",
        ]
        let service = try ServiceProcess(["run"], in: folder, environment: environment, log: folder + "/run.log")
        let port = try #require(await Self.servingPort(service), "\(service.logText)")
        let add = try ServiceProcess(
            [
                "label", "add", "did:plc:someoneelse", "spam", "--server", "http://127.0.0.1:\(port)", "--reason",
                "seen it",
            ], in: folder,
            environment: environment, log: folder + "/add.log")
        #expect(await add.wait(timeout: .seconds(30)) == 0, "\(add.logText)")
        #expect(add.logText.contains("through the running service"), "\(add.logText)")
        service.signal(SIGTERM)
        #expect(await service.wait(timeout: .seconds(30)) == 0)

        // The service is down: the same command writes to the database itself.
        let negate = try ServiceProcess(
            ["label", "negate", "did:plc:someoneelse", "spam", "--server", "http://127.0.0.1:\(port)"], in: folder,
            environment: environment, log: folder + "/negate.log")
        #expect(await negate.wait(timeout: .seconds(30)) == 0, "\(negate.logText)")
        #expect(!negate.logText.contains("through the running service"))
        let history = try await DatabaseQueue(path: folder + "/data/labels.sqlite").read { db in
            try Row.fetchAll(db, sql: "SELECT action, origin, actor, reason FROM label_history ORDER BY id").map {
                row -> String in
                let fields: [String?] = [row["action"], row["origin"], row["actor"], row["reason"]]
                return fields.map { $0 ?? "-" }.joined(separator: " ")
            }
        }
        #expect(history.count == 2)
        #expect(history.first?.hasPrefix("apply manual did:plc:adminlabeler") == true, "\(history)")
        #expect(history.first?.contains("seen it") == true, "\(history)")
        #expect(history.last?.hasPrefix("negate manual") == true, "\(history)")
    }

    @Test(.timeLimit(.minutes(2))) func aLabelWrittenByAnotherProcessReachesLiveSubscribers() async throws {
        let relay = try await TestRelay(messages: [])
        defer { Task { await relay.stop() } }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("labeler-feed-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let environment = [
            "LABELER_SOURCE_URL": relay.url, "LABELER_SERVER_PORT": "0", "LABELER_DID": "did:plc:feedlabeler",
        ]
        let service = try ServiceProcess(["run"], in: folder, environment: environment, log: folder + "/run.log")
        let port = try #require(await Self.servingPort(service), "\(service.logText)")
        // A live subscriber (no cursor), waiting for one label.
        let tail = try ServiceProcess(
            ["labels", "tail", "ws://127.0.0.1:\(port)", "--limit", "1", "--json"], in: folder, environment: [:],
            log: folder + "/tail.log")
        _ = await eventually(timeout: .seconds(10)) { tail.logText.contains("connected") }
        // No admin token: the command writes to the database itself.
        let add = try ServiceProcess(
            ["label", "add", "did:plc:someoneelse", "spam"], in: folder, environment: environment,
            log: folder + "/add.log")
        #expect(await add.wait(timeout: .seconds(30)) == 0, "\(add.logText)")
        #expect(await tail.wait(timeout: .seconds(20)) == 0, "\(tail.logText)")
        #expect(tail.logText.contains("\"uri\":\"did:plc:someoneelse\""), "\(tail.logText)")
        service.signal(SIGTERM)
        #expect(await service.wait(timeout: .seconds(30)) == 0)
    }
}
