import ATCrypto
import ATProto
import Foundation
import GRDB
import LabelStore
import TestSupport
import Testing

@testable import Labeler

#if canImport(Glibc)
import Glibc
#endif

/// Writes `changes` through a writer of its own, as the service and the CLI do.
private func write(_ changes: [LabelChange], store: LabelStore, key: SigningKey, src: String) async throws {
    let writer = try LabelWriter(store: store, src: src, key: key, logger: quietLogger())
    let running = Task { await writer.run() }
    var rest = changes[...]
    while !rest.isEmpty {
        _ = try await writer.submit(Array(rest.prefix(500)))
        rest = rest.dropFirst(500)
    }
    running.cancel()
    await running.value
}

private func change(
    _ action: LabelChange.Action, _ uri: String, _ val: String, rule: String? = nil
) throws -> LabelChange {
    LabelChange(
        action: action, subject: try LabelSubject(uri), val: val,
        origin: rule.map { .rule(id: $0) } ?? .manual(actor: "alice"))
}

@Suite struct RetractionStoreTests {
    static let src = "did:plc:labeler"

    /// A label counts by its latest application: who applied it last, and when.
    @Test func candidatesFollowEachLabelsLatestApplication() async throws {
        let store = try LabelStore(path: temporaryPath("labels.sqlite"))
        let key = SigningKey.generate(.secp256k1)
        let post = { (n: Int) in "at://did:plc:a/app.bsky.feed.post/\(n)" }
        try await write(
            [
                change(.apply, post(1), "spam", rule: "r1"),
                change(.apply, post(2), "spam", rule: "r2"),
                change(.apply, post(3), "porn", rule: "r1"),
                change(.apply, "did:plc:x", "spam"),
                // Applied by r1, negated by r1, applied again by r2: it is r2's now.
                change(.apply, post(4), "spam", rule: "r1"),
                change(.negate, post(4), "spam", rule: "r1"),
                change(.apply, post(4), "spam", rule: "r2"),
                // Applied then negated: nothing to retract.
                change(.apply, post(5), "spam", rule: "r1"),
                change(.negate, post(5), "spam", rule: "r1"),
            ], store: store, key: key, src: Self.src)
        // Another labeler's labels in the same database are never ours to retract.
        try await write(
            [change(.apply, post(9), "spam", rule: "r1")], store: store, key: key, src: "did:plc:someoneelse")

        func uris(_ criteria: LabelStore.RetractionCriteria) throws -> [String] {
            try store.retractionCandidates(src: Self.src, criteria).map(\.uri)
        }
        #expect(try uris(.init(ruleID: "r1")) == [post(1), post(3)])
        #expect(try uris(.init(ruleID: "r2")).sorted() == [post(2), post(4)])
        #expect(try uris(.init(val: "spam")).sorted() == [post(1), post(2), post(4), "did:plc:x"].sorted())
        #expect(try uris(.init(ruleID: "r1", val: "spam")) == [post(1)])
        #expect(try uris(.init(uri: "at://did:plc:a/*")).count == 4)
        #expect(try uris(.init(uri: "did:plc:x")) == ["did:plc:x"])
        #expect(try uris(.init(uri: "at://did:plc:a_*")).isEmpty)  // `_` is not a wildcard
        let future = Datetime(unixMicros: Datetime.now().unixMicros + 3_600_000_000)
        #expect(try uris(.init(val: "spam", since: future)).isEmpty)
        let past = Datetime(unixMicros: Datetime.now().unixMicros - 3_600_000_000)
        #expect(try uris(.init(val: "spam", since: past)).count == 4)
        let targets = try store.retractionCandidates(src: Self.src, .init(uri: "did:plc:x"))
        #expect(targets.map(\.ruleID) == [nil])
        #expect(targets.map(\.ordinal) == [1])
    }

    /// A target is negated only while its row is the one the retraction saw: a label changed
    /// after the retraction began is left alone, and progress and the finish are kept.
    @Test func aTargetWhoseLabelChangedSinceTheStartIsNotUnchanged() async throws {
        let store = try LabelStore(path: temporaryPath("labels.sqlite"))
        let key = SigningKey.generate(.secp256k1)
        try await write(
            (1...3).map { try change(.apply, "at://did:plc:a/app.bsky.feed.post/\($0)", "spam", rule: "r1") },
            store: store, key: key, src: Self.src)
        let criteria = LabelStore.RetractionCriteria(ruleID: "r1")
        let retraction = try store.beginRetraction(
            criteria, targets: try store.retractionCandidates(src: Self.src, criteria), at: .now())
        #expect(retraction.targets == 3 && retraction.doneThrough == 0 && !retraction.finished)
        #expect(try store.unfinishedRetraction(criteria)?.id == retraction.id)
        #expect(try store.unfinishedRetraction(.init(ruleID: "r2")) == nil)
        try await write(
            [change(.negate, "at://did:plc:a/app.bsky.feed.post/2", "spam")], store: store, key: key, src: Self.src)
        let targets = try store.retractionTargets(of: retraction.id, after: 0, limit: 10)
        #expect(targets.map(\.unchanged) == [true, false, true])
        #expect(try store.retractionTargets(of: retraction.id, after: 2, limit: 10).map(\.target.ordinal) == [3])
        try store.noteRetractionProgress(retraction.id, doneThrough: 2, finishedAt: nil)
        #expect(try store.unfinishedRetraction(criteria)?.doneThrough == 2)
        try store.noteRetractionProgress(retraction.id, doneThrough: 3, finishedAt: .now())
        #expect(try store.unfinishedRetraction(criteria) == nil)
    }
}

/// `labeler labels retract` as a child process: killed with SIGKILL mid-way and run again, it
/// ends with every matching label negated exactly once and nothing else touched.
@Suite(.serialized) struct RetractCommandTests {
    static let did = "did:plc:retractlabeler"

    @Test(.timeLimit(.minutes(5))) func aRetractionKilledMidwayFinishesOnTheRerunNegatingNothingTwice() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "labeler-retract-\(UUID().uuidString)"
        ).path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let key = SigningKey.generate(.secp256k1)
        try KeyFile.create(at: folder + "/signing.key", key: key)
        let path = folder + "/labels.sqlite"
        let environment = [
            "LABELER_STORE_PATH": path, "LABELER_SIGNING_KEY": folder + "/signing.key", "LABELER_DID": Self.did,
        ]
        let bad = 3_000
        let good = 200
        let store = try LabelStore(path: path)
        try await write(
            (0..<bad).map { try change(.apply, "at://did:plc:b\($0)/app.bsky.feed.post/1", "spam", rule: "bad") }
                + (0..<good).map {
                    try change(.apply, "at://did:plc:g\($0)/app.bsky.feed.post/1", "spam", rule: "good")
                },
            store: store, key: key, src: Self.did)

        let preview = try ServiceProcess(
            ["labels", "retract", "--rule", "bad", "--dry-run", "--json", "--samples", "2"], in: folder,
            environment: environment, log: folder + "/preview.log")
        #expect(await preview.wait(timeout: .seconds(60)) == 0, "\(preview.logText)")
        #expect(
            preview.logText.hasPrefix("{\"criteria\":\"rule=bad\",\"count\":\(bad),\"samples\":[{"),
            "\(preview.logText)")
        #expect(try Self.negations(path) == 0)

        // Small batches, one transaction each: the kill lands between two of them, or inside one.
        let first = try ServiceProcess(
            ["labels", "retract", "--rule", "bad", "--batch", "10", "--reason", "a bad rule edit"], in: folder,
            environment: environment, log: folder + "/first.log")
        let started = await eventually(timeout: .seconds(120)) { (try? Self.progress(path)) ?? 0 > 0 }
        first.signal(SIGKILL)
        #expect(started, "\(first.logText)")
        _ = await first.wait(timeout: .seconds(30))
        let negatedBeforeTheKill = try Self.negations(path)
        #expect(negatedBeforeTheKill > 0 && negatedBeforeTheKill < bad, "killed after \(negatedBeforeTheKill)")

        let rerun = try ServiceProcess(
            ["labels", "retract", "--rule", "bad", "--batch", "100", "--reason", "a bad rule edit", "--json"],
            in: folder, environment: environment, log: folder + "/rerun.log")
        #expect(await rerun.wait(timeout: .seconds(120)) == 0, "\(rerun.logText)")
        #expect(rerun.logText.contains("\"targets\":\(bad),"), "\(rerun.logText)")
        #expect(rerun.logText.contains("\"resumed\":true"), "\(rerun.logText)")

        // Every bad label negated exactly once, the good ones untouched.
        let queue = try DatabaseQueue(path: path)
        try await queue.read { db in
            let perLabel = try Row.fetchAll(
                db,
                sql: """
                    SELECT uri, SUM(action = 'negate') AS negations, MAX(reason) AS reason FROM label_history
                    GROUP BY uri, val
                    """)
            #expect(perLabel.count == bad + good)
            for row in perLabel {
                let uri: String = row["uri"]
                let negations: Int = row["negations"]
                #expect(negations == (uri.hasPrefix("at://did:plc:b") ? 1 : 0), "\(uri): \(negations) negations")
                if negations == 1 {
                    let reason: String? = row["reason"]
                    #expect(reason == "retraction 1 (rule=bad): a bad rule edit")
                }
            }
            let applied = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM label WHERE neg = 0")
            #expect(applied == good)
        }
        try queue.close()

        // Nothing is left: a new retraction finds nothing.
        let again = try ServiceProcess(
            ["labels", "retract", "--rule", "bad"], in: folder, environment: environment, log: folder + "/again.log")
        #expect(await again.wait(timeout: .seconds(60)) == 0, "\(again.logText)")
        #expect(again.logText.contains("retraction 2 (rule=bad): negated 0 of 0"), "\(again.logText)")
        #expect(try Self.negations(path) == bad)
    }

    static func negations(_ path: String) throws -> Int {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM label_history WHERE action = 'negate'") ?? 0
        }
    }

    static func progress(_ path: String) throws -> Int64 {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { db in
            try Int64.fetchOne(db, sql: "SELECT MAX(done_through) FROM retraction") ?? 0
        }
    }
}
