import ATCrypto
import ATProto
import Foundation
import GRDB
import SeededRandom
import Synchronization
import TestNetwork
import TestRelay
import TestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

#if canImport(Glibc)
import Glibc
#endif

/// `labeler run` as a real child process taking reports from many reporters at once, killed with
/// SIGKILL while they arrive and restarted: a report answered 200 must be in the database from
/// that moment on, once, and nothing that was not sent may be there. Reporters resend what was
/// not answered after each restart, as a PDS's user would; a report that was stored but whose
/// answer the kill swallowed must come back as the same report, not a second one. Rules on
/// reports run throughout: every report ends up evaluated once the service has run again, each
/// label they ask for is applied exactly once, and the threshold over distinct reporters fires
/// once.
@Suite(.serialized) struct ReportCrashTests {
    static let labeler = "did:plc:reportcrashlabelerlabela"
    static let method = "com.atproto.moderation.createReport"
    static let cid = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"

    /// A did:plc made of `name` padded with `a` to the 24 base32 characters PLC DIDs have.
    static func plcDID(_ name: String) -> String {
        "did:plc:" + name.padding(toLength: 24, withPad: "a", startingAt: 0)
    }

    /// Two letters for `n` (< 676), since did:plc identifiers take no 0, 1, 8 or 9.
    static func letters(_ n: Int) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz")
        return String([alphabet[n / 26], alphabet[n % 26]])
    }

    struct Reporter: Sendable {
        var did: String
        var key: SigningKey
    }

    /// One report a reporter means to file: an account, or a record in another repository.
    struct Planned: Sendable, Hashable {
        var reporter: String
        var subject: String
        var isRecord: Bool
        var reason: String

        var body: String {
            let subjectJSON =
                isRecord
                ? #"{"$type":"com.atproto.repo.strongRef","uri":"# + DataModelJSON.quote(subject) + #","cid":"#
                    + DataModelJSON.quote(ReportCrashTests.cid) + "}"
                : #"{"$type":"com.atproto.admin.defs#repoRef","did":"# + DataModelJSON.quote(subject) + "}"
            return #"{"reasonType":"com.atproto.moderation.defs#reasonSpam","reason":"# + DataModelJSON.quote(reason)
                + #","subject":"# + subjectJSON + "}"
        }

        var key: String { reporter + " " + subject }
    }

    /// What the reporters have been told: the id each acknowledged report got, and what else came back.
    final class Ledger: Sendable {
        struct State {
            var acknowledged: [String: Int64] = [:]
            var acknowledgedThisLife = 0
            /// Reporters done for this life: finished, or cut off by the kill.
            var stoppedThisLife = 0
            var unexpected: [String] = []
        }
        let state = Mutex(State())
    }

    static func session() -> URLSession {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = 32
        configuration.timeoutIntervalForRequest = 60
        return URLSession(configuration: configuration)
    }

    /// Files `plan` in order at `port` until it is done or the service stops answering; returns
    /// what is left to file.
    static func file(
        _ plan: [Planned], as reporter: Reporter, port: Int, session: URLSession, ledger: Ledger
    ) async -> [Planned] {
        var left = plan[...]
        while let next = left.first {
            guard
                let token = try? ServiceAuthToken.mint(
                    reporter.key, issuer: reporter.did, audience: labeler + "#atproto_labeler", method: method)
            else {
                ledger.state.withLock { $0.unexpected.append("no token for \(reporter.did)") }
                return Array(left)
            }
            // A transport error is the kill: what was not answered is sent again after the restart.
            guard
                let answer = try? await postXRPC(
                    port: port, method: method, bearer: token, body: next.body, session: session)
            else { return Array(left) }
            guard answer.status == 200, let object = try? DataModelJSON.parseObject(answer.text),
                let id = object["id"]?.intValue
            else {
                ledger.state.withLock { $0.unexpected.append("\(next.key): \(answer.status) \(answer.text)") }
                return Array(left)
            }
            ledger.state.withLock {
                if let earlier = $0.acknowledged[next.key] {
                    $0.unexpected.append("\(next.key) acknowledged twice: \(earlier) and \(id)")
                }
                $0.acknowledged[next.key] = id
                $0.acknowledgedThisLife += 1
            }
            left.removeFirst()
        }
        return []
    }

    struct StoredRow: Equatable {
        var id: Int64
        var key: String
        var reason: String?
        var filings: Int
        /// Sent again after a restart because its first answer was lost with the process.
        var repeats: Int
    }

    /// Every report in the database, with how many `filed` actions it has.
    static func stored(_ path: String) throws -> [StoredRow] {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { db in
            guard try db.tableExists("report") else { return [] }
            return try Row.fetchAll(
                db,
                sql: """
                    SELECT r.id, r.reported_by, r.subject, r.reason,
                        (SELECT count(*) FROM report_action a WHERE a.report_id = r.id AND a.action = 'filed') AS filings,
                        (SELECT count(*) FROM report_action a WHERE a.report_id = r.id AND a.action = 'repeated') AS repeats
                    FROM report r ORDER BY r.id
                    """
            ).map { row in
                let reporter: String = row["reported_by"]
                let subject: String = row["subject"]
                return StoredRow(
                    id: row["id"], key: reporter + " " + subject, reason: row["reason"], filings: row["filings"],
                    repeats: row["repeats"])
            }
        }
    }

    @Test(.timeLimit(.minutes(10))) func killedWhileReportsArriveItKeepsEveryAcknowledgedReportOnce() async throws {
        let network = try TestNetwork()
        let base = try await network.start()
        let relay = try await TestRelay(messages: [])
        defer { Task { await relay.stop() } }
        defer { Task { await network.stop() } }

        // Reporters on both curves, each with its own accounts and records to report.
        let reporters = (0..<12).map { n in
            Reporter(
                did: Self.plcDID("crashreporter" + Self.letters(n)),
                key: SigningKey.generate(n % 2 == 0 ? .secp256k1 : .p256))
        }
        network.withState { state in
            for reporter in reporters {
                state.plc[reporter.did] = .init(
                    verificationMethods: ["atproto": reporter.key.publicKey.didKey], alsoKnownAs: [], services: [:])
            }
        }
        let perReporter = 30
        var plans: [String: [Planned]] = [:]
        for (r, reporter) in reporters.enumerated() {
            plans[reporter.did] = (0..<perReporter).map { i in
                let account = Self.plcDID("crashsubject" + Self.letters(r) + Self.letters(i))
                return i % 3 == 0
                    ? Planned(
                        reporter: reporter.did, subject: "at://\(account)/app.bsky.feed.post/3l\(Self.letters(i))post",
                        isRecord: true, reason: "record \(r)/\(i)")
                    : Planned(reporter: reporter.did, subject: account, isRecord: false, reason: "account \(r)/\(i)")
            }
        }
        // Every reporter also reports one account, last: the threshold rule counts them.
        let crowded = Self.plcDID("crashcrowdedsubject")
        for reporter in reporters {
            plans[reporter.did]?.append(
                Planned(reporter: reporter.did, subject: crowded, isRecord: false, reason: "crowd"))
        }
        let everything = Dictionary(uniqueKeysWithValues: plans.values.joined().map { ($0.key, $0) })

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "labeler-report-crash-\(UUID().uuidString)"
        ).path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let database = folder + "/labels.sqlite"
        try FileManager.default.createDirectory(atPath: folder + "/rules", withIntermediateDirectories: true)
        try """
        rules:
          - id: reported
            on: [report]
            match: {reason_types: [spam]}
            label: reported
            expires_in: 30d
          - id: crowd
            on: [report]
            match: {reason_types: [spam]}
            threshold: {count: \(reporters.count), within: 24h}
            label: crowd
            escalate: true
        """.write(toFile: folder + "/rules/reports.yaml", atomically: true, encoding: .utf8)
        let environment = [
            "LABELER_RULES_PATH": folder + "/rules",
            "LABELER_SOURCE_URL": relay.url, "LABELER_STORE_PATH": database,
            "LABELER_SIGNING_KEY": folder + "/signing.key",
            "LABELER_DID": Self.labeler, "LABELER_SERVER_PORT": "0", "LABELER_IDENTITY_PLC_URL": base + "/plc",
            "LABELER_REPORTS_ENABLED": "true",
            // The limits are counted in memory and would only get in the way of the count here.
            "LABELER_REPORTS_PER_REPORTER_PER_DAY": "0", "LABELER_REPORTS_PER_IP_PER_MINUTE": "0",
            "LABELER_REPORTS_PER_MINUTE": "0",
        ]

        let ledger = Ledger()
        let session = Self.session()
        var random = SplitMix64(seed: 0x5EB0_47)
        let plannedKills = 7
        var killsDuringTraffic = 0
        var life = 0
        while !plans.values.allSatisfy(\.isEmpty) {
            life += 1
            try #require(life <= 30, "the reports are still not all filed after \(life - 1) lives")
            let child = try ServiceProcess(
                ["run"], in: folder, environment: environment, log: folder + "/run.\(life).log")
            let port = try #require(await CrashTests.servingPort(child), "\(child.logText.suffix(2000))")
            ledger.state.withLock {
                $0.acknowledgedThisLife = 0
                $0.stoppedThisLife = 0
            }
            let killing = life <= plannedKills
            // The kill comes after a random number of answers and a random delay: a moment while
            // requests are being verified, stored and answered.
            let answersBeforeTheKill = 3 + Int(random.next() % 40)
            let delay = Int(random.next() % 30)
            let lifePlans = plans
            let left = await withTaskGroup(of: (String, [Planned]).self) { group in
                for reporter in reporters {
                    let plan = lifePlans[reporter.did] ?? []
                    group.addTask {
                        let left = await Self.file(plan, as: reporter, port: port, session: session, ledger: ledger)
                        ledger.state.withLock { $0.stoppedThisLife += 1 }
                        return (reporter.did, left)
                    }
                }
                if killing {
                    let pid = child.pid
                    let reporterCount = reporters.count
                    group.addTask {
                        _ = await eventually(timeout: .seconds(120)) {
                            ledger.state.withLock {
                                $0.acknowledgedThisLife >= answersBeforeTheKill || $0.stoppedThisLife == reporterCount
                            }
                        }
                        try? await Task.sleep(for: .milliseconds(delay))
                        kill(pid, SIGKILL)
                        return ("", [])
                    }
                }
                var left: [String: [Planned]] = [:]
                for await (did, plan) in group where !did.isEmpty { left[did] = plan }
                return left
            }
            plans = left
            let unexpected = ledger.state.withLock { $0.unexpected }
            try #require(unexpected.isEmpty, "\(unexpected.prefix(5)); \(child.logText.suffix(2000))")
            if killing {
                #expect(await child.wait(timeout: .seconds(30)) != nil)
                let remaining = plans.values.map(\.count).reduce(0, +)
                if remaining > 0 { killsDuringTraffic += 1 }
                // Dead now: everything answered 200 so far must already be on disk.
                let storedKeys = Set(try Self.stored(database).map(\.key))
                let acknowledged = ledger.state.withLock { $0.acknowledged }
                let lost = acknowledged.keys.filter { !storedKeys.contains($0) }
                #expect(lost.isEmpty, "life \(life): acknowledged but not stored: \(lost.prefix(5))")
                print(
                    "kill \(life) after \(ledger.state.withLock { $0.acknowledgedThisLife }) answers: "
                        + "\(acknowledged.count) acknowledged, \(storedKeys.count) stored, \(remaining) left")
            } else if plans.values.allSatisfy(\.isEmpty) {
                child.signal(SIGTERM)
                let status = await child.wait(timeout: .seconds(60))
                #expect(status == 0, "exit status \(status.map(String.init) ?? "none"): \(child.logText.suffix(2000))")
            }
        }
        #expect(killsDuringTraffic >= 5, "the kills should land while reports arrive, not after")

        // One more life: the rules catch up on what the kills left waiting, then a clean stop.
        let last = try ServiceProcess(["run"], in: folder, environment: environment, log: folder + "/run.last.log")
        _ = try #require(await CrashTests.servingPort(last), "\(last.logText.suffix(2000))")
        try await waitUntil("every report evaluated by the rules") { try Self.awaitingRules(database) == 0 }
        last.signal(SIGTERM)
        let status = await last.wait(timeout: .seconds(60))
        #expect(status == 0, "exit status \(status.map(String.init) ?? "none"): \(last.logText.suffix(2000))")

        let rows = try Self.stored(database)
        let acknowledged = ledger.state.withLock { $0.acknowledged }
        print(
            "\(rows.count) reports stored; \(rows.filter { $0.repeats > 0 }.count) of them stored by a process "
                + "killed before it answered, and answered after a restart")
        #expect(acknowledged.count == everything.count)
        // Exactly the reports sent, each once, filed once, with what its reporter wrote.
        #expect(rows.count == everything.count, "\(rows.count) stored, \(everything.count) sent")
        #expect(Set(rows.map(\.key)) == Set(everything.keys))
        for row in rows {
            #expect(row.filings == 1, "\(row.key) filed \(row.filings) times")
            #expect(row.reason == everything[row.key]?.reason, "\(row.key)")
            // The answer named the report that is stored, also when it came after a restart.
            #expect(
                acknowledged[row.key] == row.id, "\(row.key): answered \(acknowledged[row.key] ?? -1), stored \(row.id)"
            )
        }
        // Each subject got its label once, whatever the kills interrupted (with its expiry from the
        // report's own time, so evaluating a report again changes nothing); the crowded account
        // its threshold label once, and every report on it is escalated.
        let applied = try Self.appliedLabels(database)
        let subjects = Set(everything.values.map(\.subject))
        let reported = applied.filter { $0.val == "reported" }
        #expect(Set(reported.map(\.uri)) == subjects)
        // A subject reported once has one apply (a second, from a report evaluated again with
        // another time, would have another expiry); the crowded one at most one per report (each
        // report's expiry is later than the one before).
        #expect(reported.filter { $0.uri != crowded }.count == subjects.count - 1)
        #expect(reported.filter { $0.uri == crowded }.count <= reporters.count)
        #expect(applied.filter { $0.val == "crowd" }.map(\.uri) == [crowded])
        #expect(try Self.escalated(database) == reporters.count)
    }

    /// Reports not yet evaluated by the rules on reports.
    static func awaitingRules(_ path: String) throws -> Int {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM report WHERE rules_pending = 1") ?? 0
        }
    }

    /// Every label applied, from the history (one entry per change that went out).
    static func appliedLabels(_ path: String) throws -> [(uri: String, val: String)] {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT uri, val FROM label_history WHERE action = 'apply' ORDER BY id").map {
                (uri: $0["uri"], val: $0["val"])
            }
        }
    }

    static func escalated(_ path: String) throws -> Int {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM report WHERE state = 'escalated'") ?? 0
        }
    }
}
