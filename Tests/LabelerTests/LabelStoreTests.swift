import ATProto
import Foundation
import GRDB
import TestSupport
import Testing

@testable import LabelStore

/// Signs with a fixed 64-byte pattern derived from the content: the store does not check
/// signatures, it only must store exactly what the signer returned.
func fakeSign(_ label: Label) -> Label {
    var signed = label
    let digest = CID.compute(for: label.unsignedBytes()).digest
    signed.sig = digest + digest
    return signed
}

extension LabelStore {
    /// Plans `changes` on the stored rows, signs them with `sign` and commits them: the label
    /// writer's steps, in one thread, for tests of the store and the planner.
    func write(
        _ changes: [LabelChange], src: String, now: String, cursor: (name: CursorName, seq: Int64)?, keyID: Int64,
        eventSource: CursorName? = nil, sign: (Label) throws -> Label
    ) throws -> [StoredLabel] {
        let snapshot = try snapshotNow(of: changes.map(LabelKey.init), src: src)
        let time = try Datetime(now)
        var steps = LabelPlanner.plan(
            changes, current: snapshot.current, src: src, now: time, eventSource: eventSource ?? cursor?.name)
        do {
            for i in steps.indices { steps[i].label = try steps[i].label.map(sign) }
        } catch {
            throw LabelStore.Error(description: "signing: \(error)")
        }
        return try commitNow(
            LabelTransaction(src: src, time: time, keyID: keyID, epoch: snapshot.epoch, steps: steps, cursor: cursor))
    }

    /// Forgets `source`'s events, as the writer does when its sequence restarts.
    func forgetEvents(of source: CursorName) throws {
        _ = try commitNow(
            LabelTransaction(
                src: "", time: Datetime.now(), keyID: 0, epoch: try snapshotNow(of: [], src: "").epoch,
                restartedSource: source))
    }
}

@Suite struct LabelStoreTests {
    let src = "did:plc:labeler"
    let store: LabelStore
    let key: Int64

    init() throws {
        store = try LabelStore(path: temporaryPath("labels.sqlite"))
        key = try store.keyID(forDIDKey: "did:key:zQ3sexample", at: "2026-01-01T00:00:00.000Z")
    }

    func write(_ changes: [LabelChange], now: String = "2026-01-01T00:00:01.000Z", cursor: (CursorName, Int64)? = nil)
        throws -> [StoredLabel]
    {
        try store.write(
            changes, src: src, now: now, cursor: cursor.map { (name: $0.0, seq: $0.1) }, keyID: key, sign: fakeSign)
    }

    func apply(_ uri: String, _ val: String = "spam", rule: String = "r1", exp: String? = nil) throws -> LabelChange {
        LabelChange(action: .apply, subject: try LabelSubject(uri), val: val, exp: exp, origin: .rule(id: rule))
    }

    func negate(_ uri: String, _ val: String = "spam", by origin: LabelChange.Origin = .rule(id: "r1")) throws
        -> LabelChange
    {
        LabelChange(action: .negate, subject: try LabelSubject(uri), val: val, origin: origin)
    }

    @Test func seqsIncreaseAndAreNeverReused() throws {
        let first = try write([
            apply("at://did:plc:a/app.bsky.feed.post/1"), apply("at://did:plc:a/app.bsky.feed.post/2"),
        ])
        #expect(first.map(\.seq) == [1, 2])
        let negated = try write([negate("at://did:plc:a/app.bsky.feed.post/1")], now: "2026-01-01T00:00:02.000Z")
        #expect(negated.map(\.seq) == [3])
        // The row for x/1 moved to seq 3; seq 1 is gone from the stream and is never handed out again.
        #expect(try store.labels(after: 0, limit: 10).map(\.seq) == [2, 3])
        let again = try write([apply("at://did:plc:a/app.bsky.feed.post/1")], now: "2026-01-01T00:00:03.000Z")
        #expect(again.map(\.seq) == [4])
        #expect(try store.lastLabelSeq() == 4)
    }

    @Test func noOpsAreDropped() throws {
        #expect(try write([apply("at://did:plc:a/app.bsky.feed.post/1")]).count == 1)
        #expect(try write([apply("at://did:plc:a/app.bsky.feed.post/1")]).isEmpty)  // already applied
        #expect(try write([negate("at://did:plc:a/app.bsky.feed.post/9")]).isEmpty)  // never applied
        // The expiry changed.
        #expect(try write([apply("at://did:plc:a/app.bsky.feed.post/1", exp: "2026-02-01T00:00:00.000Z")]).count == 1)
        #expect(try store.history(of: try LabelSubject("at://did:plc:a/app.bsky.feed.post/1")).count == 2)
    }

    @Test func aPersonsNegationWinsOverRules() throws {
        _ = try write([apply("at://did:plc:a/app.bsky.feed.post/1")])
        let manual = try write(
            [negate("at://did:plc:a/app.bsky.feed.post/1", by: .manual(actor: "mod@example"))],
            now: "2026-01-01T00:00:02.000Z")
        #expect(manual.first?.label.neg == true)
        #expect(try write([apply("at://did:plc:a/app.bsky.feed.post/1")], now: "2026-01-01T00:00:03.000Z").isEmpty)
        // A person may apply it again, which unlocks it.
        let reapplied = try write(
            [
                LabelChange(
                    action: .apply, subject: try LabelSubject("at://did:plc:a/app.bsky.feed.post/1"), val: "spam",
                    origin: .manual(actor: "mod@example"))
            ],
            now: "2026-01-01T00:00:04.000Z")
        #expect(reapplied.count == 1 && reapplied[0].label.neg == nil)
        // A person negating a label that rules had already negated still locks it.
        _ = try write([apply("at://did:plc:a/app.bsky.feed.post/2")])
        _ = try write([negate("at://did:plc:a/app.bsky.feed.post/2")], now: "2026-01-01T00:00:05.000Z")
        #expect(
            try write(
                [negate("at://did:plc:a/app.bsky.feed.post/2", by: .manual(actor: "m"))],
                now: "2026-01-01T00:00:06.000Z"
            ).isEmpty)
        #expect(try write([apply("at://did:plc:a/app.bsky.feed.post/2")], now: "2026-01-01T00:00:07.000Z").isEmpty)
        #expect(
            try store.history(of: try LabelSubject("at://did:plc:a/app.bsky.feed.post/2")).map(\.origin) == [
                "rule", "rule", "manual",
            ])
    }

    @Test func laterChangesInABatchSeeEarlierOnes() throws {
        let rows = try write([
            apply("at://did:plc:a/app.bsky.feed.post/1"), apply("at://did:plc:a/app.bsky.feed.post/1"),
            negate("at://did:plc:a/app.bsky.feed.post/1"), apply("at://did:plc:a/app.bsky.feed.post/1"),
        ])
        #expect(rows.map(\.seq) == [1, 2, 3])
        #expect(rows.map(\.label.isNegation) == [false, true, false])
        #expect(
            rows.map(\.label.cts) == [
                "2026-01-01T00:00:01.000Z", "2026-01-01T00:00:01.001Z", "2026-01-01T00:00:01.002Z",
            ])
        #expect(try store.labels(after: 0, limit: 10).map(\.seq) == [3])
        #expect(try store.history(of: try LabelSubject("at://did:plc:a/app.bsky.feed.post/1")).count == 3)
    }

    @Test func ctsNeverGoesBackwards() throws {
        let first = try write([apply("at://did:plc:a/app.bsky.feed.post/1")], now: "2026-01-01T00:00:05.000Z")
        // A clock step back.
        let second = try write([negate("at://did:plc:a/app.bsky.feed.post/1")], now: "2026-01-01T00:00:01.000Z")
        #expect(first[0].label.cts == "2026-01-01T00:00:05.000Z")
        #expect(second[0].label.cts == "2026-01-01T00:00:05.001Z")
    }

    @Test func storedLabelsAreExactlyWhatWasSigned() throws {
        let written = try write([
            LabelChange(
                action: .apply, subject: try LabelSubject("at://did:plc:a/app.bsky.feed.post/1"),
                cid: "bafyreiacmzmmzfukfenvoukzfza4k5cyeqbjjqunee4cpo3rn4vovmcg5m",
                val: "spam", exp: "2026-03-01T00:00:00.000Z", origin: .rule(id: "r1"), field: "text",
                snippet: "free crypto")
        ])
        let read = try store.labels(after: 0, limit: 10)
        #expect(read == written)
        #expect(
            read[0].label
                == fakeSign(
                    Label(
                        src: src, uri: "at://did:plc:a/app.bsky.feed.post/1",
                        cid: "bafyreiacmzmmzfukfenvoukzfza4k5cyeqbjjqunee4cpo3rn4vovmcg5m",
                        val: "spam", cts: "2026-01-01T00:00:01.000Z", exp: "2026-03-01T00:00:00.000Z")))
        let history = try store.history(of: try LabelSubject("at://did:plc:a/app.bsky.feed.post/1"))
        #expect(
            history.count == 1 && history[0].ruleID == "r1" && history[0].field == "text"
                && history[0].snippet == "free crypto")
    }

    @Test func labelsAndCursorCommitTogetherOrNotAtAll() throws {
        _ = try write([apply("at://did:plc:a/app.bsky.feed.post/1")], cursor: ("relay r", 10))
        #expect(try store.cursor(for: "relay r") == 10)
        struct SignerDown: Error {}
        #expect(throws: LabelStore.Error.self) {
            try store.write(
                [apply("at://did:plc:a/app.bsky.feed.post/2"), apply("at://did:plc:a/app.bsky.feed.post/3")], src: src,
                now: "2026-01-01T00:00:02.000Z",
                cursor: (name: "relay r", seq: 20), keyID: key
            ) { label in
                if label.uri == "at://did:plc:a/app.bsky.feed.post/3" { throw SignerDown() }
                return fakeSign(label)
            }
        }
        // Nothing of the failed batch is stored: not the first label, not the cursor.
        #expect(try store.labels(after: 0, limit: 10).map(\.label.uri) == ["at://did:plc:a/app.bsky.feed.post/1"])
        #expect(try store.cursor(for: "relay r") == 10)
    }

    @Test func listFiltersAndStatistics() throws {
        _ = try write([
            apply("at://did:plc:a/app.bsky.feed.post/1"), apply("at://did:plc:a/app.bsky.feed.post/2", "porn"),
            apply("at://did:plc:a_b/app.bsky.feed.post/1"), apply("did:plc:a", "bot", rule: "r2"),
        ])
        _ = try write([negate("at://did:plc:a/app.bsky.feed.post/1")], now: "2026-01-01T00:00:02.000Z")
        func uris(_ filter: LabelStore.LabelFilter) throws -> [String] {
            try store.labels(matching: filter).map(\.label.uri)
        }
        #expect(
            try uris(.init(uri: "at://did:plc:a/*")) == [
                "at://did:plc:a/app.bsky.feed.post/2", "at://did:plc:a/app.bsky.feed.post/1",
            ])
        // `_` in a prefix is literal, not a LIKE wildcard.
        #expect(try uris(.init(uri: "at://did:plc:a_*")) == ["at://did:plc:a_b/app.bsky.feed.post/1"])
        #expect(try uris(.init(uri: "did:plc:a")) == ["did:plc:a"])
        #expect(try uris(.init(val: "porn")) == ["at://did:plc:a/app.bsky.feed.post/2"])
        #expect(try uris(.init(since: 4)) == ["at://did:plc:a/app.bsky.feed.post/1"])
        #expect(try uris(.init(limit: 2)).count == 2)
        #expect(try uris(.init(src: "did:plc:other")).isEmpty)
        let stats = try store.statistics()
        #expect(stats.labels == 3 && stats.negated == 1 && stats.lastSeq == 5)
        #expect(stats.byValue == ["porn": 1, "spam": 1, "bot": 1])
        #expect(stats.byRule == ["r1": 3, "r2": 1])
    }

    @Test func migratesADatabaseFromTheFirstSchema() throws {
        let path = temporaryPath("old.sqlite")
        let queue = try DatabaseQueue(path: path)
        try LabelStore.migrator.migrate(queue, upTo: "v1 cursor")
        try queue.write { db in
            try db.execute(sql: "INSERT INTO cursor (source, seq, updated_at) VALUES ('relay x', 77, 't')")
        }
        try queue.close()
        let store = try LabelStore(path: path)
        #expect(try store.cursor(for: "relay x") == 77)
        #expect(try store.lastLabelSeq() == 0)
    }

    @Test func eventsHandledAgainAfterARestartChangeNothing() throws {
        func change(_ action: LabelChange.Action, event: Int64) throws -> LabelChange {
            LabelChange(
                action: action, subject: try LabelSubject("at://did:plc:a/app.bsky.feed.post/1"), val: "spam",
                origin: .rule(id: "r1"), eventSeq: event)
        }
        func write(_ changes: [LabelChange], source: CursorName = "relay a") throws -> [StoredLabel] {
            try store.write(
                changes, src: src, now: "2026-01-01T00:00:01.000Z", cursor: nil, keyID: key, eventSource: source,
                sign: fakeSign)
        }
        // Events 10 (apply) and 20 (negate) are stored, but the cursor had not passed 10.
        #expect(try write([change(.apply, event: 10)]).count == 1)
        #expect(try write([change(.negate, event: 20)]).count == 1)
        // After the restart both run again: without the event seq, 10 would re-apply the label.
        #expect(try write([change(.apply, event: 10)]).isEmpty)
        #expect(try write([change(.negate, event: 20)]).isEmpty)
        #expect(
            try store.history(of: try LabelSubject("at://did:plc:a/app.bsky.feed.post/1")).map(\.action) == [
                .apply, .negate,
            ])
        // A later event changes it again; so does any event of another stream.
        #expect(try write([change(.apply, event: 30)]).count == 1)
        #expect(try write([change(.negate, event: 5)], source: "jetstream b").count == 1)
        // After a sequence reset the old seqs are forgotten and low seqs count again.
        try store.forgetEvents(of: "jetstream b")
        #expect(try write([change(.apply, event: 1)], source: "jetstream b").count == 1)
    }

    @Test func aPersonsChangeKeepsTheRowsLastEvent() throws {
        let rule = { (action: LabelChange.Action, event: Int64) in
            LabelChange(
                action: action, subject: try LabelSubject("at://did:plc:a/app.bsky.feed.post/1"), val: "spam",
                origin: .rule(id: "r1"), eventSeq: event)
        }
        func write(_ changes: [LabelChange]) throws -> [StoredLabel] {
            try store.write(
                changes, src: src, now: "2026-01-01T00:00:01.000Z", cursor: nil, keyID: key, eventSource: "relay a",
                sign: fakeSign)
        }
        #expect(try write([rule(.apply, 10), rule(.negate, 20)]).count == 2)
        #expect(
            try write([
                LabelChange(
                    action: .apply, subject: try LabelSubject("at://did:plc:a/app.bsky.feed.post/1"), val: "spam",
                    origin: .manual(actor: "mod"))
            ])
            .count == 1)
        // Event 20 handled again must not undo the person's apply.
        #expect(try write([rule(.negate, 20)]).isEmpty)
    }

    @Test func migratesADatabaseFromTheThresholdSchema() throws {
        let path = temporaryPath("v3.sqlite")
        let queue = try DatabaseQueue(path: path)
        try LabelStore.migrator.migrate(queue, upTo: "v3 threshold hits")
        try queue.write { db in
            try db.execute(sql: "INSERT INTO signing_key (id, did_key, created_at) VALUES (1, 'did:key:z', 't')")
            try db.execute(
                sql: """
                    INSERT INTO label (src, uri, val, neg, cts, sig, key_id)
                    VALUES ('did:plc:labeler', 'at://did:plc:a/app.bsky.feed.post/1', 'spam', 0, '2026-01-01T00:00:00.000Z', x'00', 1)
                    """)
        }
        try queue.close()
        let store = try LabelStore(path: path)
        #expect(try store.labels(after: 0, limit: 10).map(\.label.uri) == ["at://did:plc:a/app.bsky.feed.post/1"])
        // The old row has no event: a rule's negation is applied as before.
        let written = try store.write(
            [
                LabelChange(
                    action: .negate, subject: try LabelSubject("at://did:plc:a/app.bsky.feed.post/1"), val: "spam",
                    origin: .rule(id: "r1"), eventSeq: 1)
            ],
            src: "did:plc:labeler", now: "2026-01-01T00:00:01.000Z", cursor: nil, keyID: 1, eventSource: "relay a",
            sign: fakeSign)
        #expect(written.count == 1)
    }

    /// Two writers on one database (the service and the CLI): a commit planned before the other
    /// committed is refused, and nothing of it is stored.
    @Test func aCommitPlannedOnRowsChangedMeanwhileIsRefused() throws {
        let other = try LabelStore(path: store.path)
        let change = [try apply("at://did:plc:a/app.bsky.feed.post/1")]
        let snapshot = try store.snapshotNow(of: change.map(LabelKey.init), src: src)
        let time = try Datetime("2026-01-01T00:00:01.000Z")
        var steps = LabelPlanner.plan(change, current: snapshot.current, src: src, now: time, eventSource: nil)
        steps[0].label = fakeSign(steps[0].label!)
        #expect(
            try other.write(
                [apply("at://did:plc:a/app.bsky.feed.post/1")], src: src, now: "2026-01-01T00:00:02.000Z", cursor: nil,
                keyID: key,
                sign: fakeSign
            ).count == 1)
        let refused = #expect(throws: LabelStore.Error.self) {
            try store.commitNow(
                LabelTransaction(
                    src: src, time: time, keyID: key, epoch: snapshot.epoch, steps: steps, cursor: ("relay x", 9)))
        }
        #expect(refused?.isStalePlan == true)
        #expect(try store.cursor(for: "relay x") == nil)
        #expect(try store.labels(after: 0, limit: 10).map(\.label.cts) == ["2026-01-01T00:00:02.000Z"])
        // Planned again on the new rows, it changes nothing.
        #expect(try write([apply("at://did:plc:a/app.bsky.feed.post/1")]).isEmpty)
    }

    @Test func commitsAreOnDiskBeforeTheyReturn() throws {
        #expect(try store.synchronousLevel() == 2)
        #expect(try LabelStore(path: temporaryPath("n.sqlite"), durability: .normal).synchronousLevel() == 1)
    }

    /// SQLite's own error is kept, not only its text.
    @Test func aDatabaseErrorKeepsItsResultCode() throws {
        let path = temporaryPath("ro.sqlite")
        _ = try LabelStore(path: path)
        try String(repeating: "not a database. ", count: 300).write(toFile: path, atomically: false, encoding: .utf8)
        let error = #expect(throws: LabelStore.Error.self) { try LabelStore(path: path) }
        #expect(error?.databaseError?.resultCode == .SQLITE_NOTADB)
    }

    /// `inactiveAccounts(since:)` gives the accounts heard of at or after `since` and drops the
    /// older ones for good; an account active again is not among them.
    @Test func inactiveAccountsBeforeTheCutoffAreDropped() throws {
        let day: Int64 = 86_400 * 1_000_000
        let now = try Datetime("2026-12-03T12:00:00.000Z")
        func record(_ did: String, _ status: String?, daysAgo: Int64) throws {
            var transaction = LabelTransaction(
                src: src, time: Datetime(unixMicros: now.unixMicros - daysAgo * day), keyID: key,
                epoch: try store.snapshotNow(of: [], src: src).epoch)
            transaction.accountStatuses = [AccountStatusChange(did: did, status: status)]
            _ = try store.commitNow(transaction)
        }
        try record("did:plc:old", "takendown", daysAgo: 31)
        try record("did:plc:recent", "suspended", daysAgo: 29)
        try record("did:plc:cutoff", "deleted", daysAgo: 30)
        try record("did:plc:back", "deactivated", daysAgo: 10)
        try record("did:plc:back", nil, daysAgo: 5)

        let cutoff = Datetime(unixMicros: now.unixMicros - 30 * day)
        let inactive = try store.inactiveAccounts(since: cutoff)
        #expect(
            Dictionary(uniqueKeysWithValues: inactive.map { ($0.did, $0.status) }) == [
                "did:plc:recent": "suspended", "did:plc:cutoff": "deleted",
            ])
        // Dropped, not only left out: an earlier cutoff does not bring it back.
        #expect(
            try store.inactiveAccounts(since: Datetime(unixMicros: 0)).map(\.did).sorted() == [
                "did:plc:cutoff", "did:plc:recent",
            ])
    }
}
