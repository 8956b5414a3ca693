import ATCrypto
import ATProto
import GRDB
import LabelStore
import Rules
import TestSupport
import Testing

@testable import Labeler

@Suite struct LabelWriterTests {
    @Test func concurrentSubmittersGetTheirRowsAndEverySignatureVerifies() async throws {
        let store = try LabelStore(path: temporaryPath("labels.sqlite"))
        let key = SigningKey.generate(.secp256k1)
        let writer = try LabelWriter(
            store: store, src: "did:plc:labeler", key: key, logger: quietLogger(), eventSource: "relay test")
        writer.cursorAdvanced(to: 0)
        let run = Task { await writer.run() }
        try await withThrowingTaskGroup(of: [StoredLabel].self) { group in
            for task in 0..<16 {
                group.addTask {
                    var mine: [StoredLabel] = []
                    for n in 0..<25 {
                        let change = LabelChange(
                            action: .apply, subject: try LabelSubject("at://did:plc:a\(task)/app.bsky.feed.post/\(n)"),
                            val: "spam",
                            origin: .rule(id: "r"))
                        let rows = try await writer.submit([change, change])  // the repeat is a no-op
                        mine += rows
                        writer.cursorAdvanced(to: Int64(task * 100 + n))
                    }
                    return mine
                }
            }
            var all: [StoredLabel] = []
            for try await rows in group {
                #expect(rows.count == 25)
                all += rows
            }
            #expect(Set(all.map(\.seq)).count == 400)
        }
        run.cancel()
        await run.value
        let stored = try store.labels(after: 0, limit: 1000)
        #expect(stored.count == 400)
        #expect(stored.allSatisfy { $0.label.verifySignature(with: key.publicKey) })
        #expect(stored.map(\.seq) == stored.map(\.seq).sorted())
        #expect(try store.cursor(for: "relay test") != nil)
        #expect(writer.totals.labels == 400)
        #expect(writer.totals.batches < 400)  // grouped: fewer transactions than submissions
        await #expect(throws: LabelWriter.Stopped.self) {
            try await writer.submit([
                LabelChange(action: .apply, subject: try LabelSubject("did:plc:x"), val: "late", origin: .rule(id: "r"))
            ]
            )
        }
    }

    /// Negations of labels never applied (a rule's `on_no_match: negate` on every delete) cost
    /// no transaction while a commit is recent; a negation of an applied label is written. (The
    /// idle interval is long, so "recent" holds however slowly a loaded machine runs the test.)
    @Test func negationsThatChangeNothingNeedNoTransaction() async throws {
        let store = try LabelStore(path: temporaryPath("labels.sqlite"))
        let writer = try LabelWriter(
            store: store, src: "did:plc:labeler", key: SigningKey.generate(.secp256k1),
            configuration: .init(idleCursorInterval: .seconds(600)), logger: quietLogger(),
            eventSource: "relay test")
        writer.cursorAdvanced(to: 0)
        let run = Task { await writer.run() }
        let uri = "at://did:plc:a/app.bsky.feed.post/1"
        let applied = try await writer.submit([
            LabelChange(action: .apply, subject: try LabelSubject(uri), val: "spam", origin: .rule(id: "r"))
        ])
        #expect(applied.count == 1)
        let negated = try await writer.submit([
            LabelChange(action: .negate, subject: try LabelSubject(uri), val: "spam", origin: .rule(id: "r"))
        ])
        #expect(negated.count == 1 && negated[0].label.neg == true)
        let batches = writer.totals.batches
        // The cursor moves; from now on only negations that change nothing come.
        writer.cursorAdvanced(to: 99)
        for n in 0..<20 {
            let rows = try await writer.submit([
                LabelChange(
                    action: .negate, subject: try LabelSubject("at://did:plc:b/app.bsky.feed.post/\(n)"), val: "spam",
                    origin: .rule(id: "r"))
            ])
            #expect(rows.isEmpty)
        }
        #expect(writer.totals.skippedBatches >= 1)
        #expect(writer.totals.batches == batches)  // not one transaction for them
        run.cancel()
        await run.value
        // The cursor they covered is stored at the stop; one row per label: the negation
        // replaced the application.
        #expect(try store.cursor(for: "relay test") == 99)
        #expect(try store.labels(after: 0, limit: 10).map(\.label.neg) == [true])
    }

    /// With nothing to write, the idle tick still stores the cursor once it has moved.
    @Test func theIdleTickStoresACursorThatMovedWithoutLabels() async throws {
        let store = try LabelStore(path: temporaryPath("labels.sqlite"))
        let writer = try LabelWriter(
            store: store, src: "did:plc:labeler", key: SigningKey.generate(.secp256k1),
            configuration: .init(idleCursorInterval: .milliseconds(200)), logger: quietLogger(),
            eventSource: "relay test")
        let run = Task { await writer.run() }
        writer.cursorAdvanced(to: 99)
        #expect(try await eventually(timeout: .seconds(120)) { try store.cursor(for: "relay test") == 99 })
        run.cancel()
        await run.value
        #expect(writer.totals.labels == 0)
    }

    /// Workers queue their labels and finish without waiting; the cursor read with each
    /// transaction must still never count an event whose labels are not in the database.
    @Test func theStoredCursorNeverPassesALabelNotYetStored() async throws {
        let path = temporaryPath("labels.sqlite")
        let store = try LabelStore(path: path)
        let writer = try LabelWriter(
            store: store, src: "did:plc:labeler", key: .generate(.secp256k1),
            configuration: .init(maxBatch: 7, maxQueued: 50), logger: quietLogger(), eventSource: "relay test")
        let run = Task { await writer.run() }
        let events: Int64 = 1_500
        let producing = Task {
            for event in 1...events {
                try await writer.enqueue([
                    LabelChange(
                        action: .apply, subject: try LabelSubject("at://did:plc:a/app.bsky.feed.post/\(event)"),
                        val: "spam",
                        origin: .rule(id: "r"))
                ])
                writer.cursorAdvanced(to: event)  // the event is done once its labels are queued
                if event % 10 == 0 { await Task.yield() }
            }
        }
        let reader = try DatabaseQueue(
            path: path,
            configuration: {
                var c = Configuration(); c.readonly = true; return c
            }())
        var checks = 0
        while true {
            let (cursor, labels) = try await reader.read { db in
                (
                    try Int64.fetchOne(db, sql: "SELECT seq FROM cursor WHERE source = 'relay test'") ?? 0,
                    try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM label") ?? 0
                )
            }
            // Event n has exactly one label, so events 1...cursor need `cursor` labels.
            #expect(labels >= cursor, "cursor \(cursor) stored with only \(labels) labels")
            checks += 1
            if cursor == events { break }
            try await Task.sleep(for: .milliseconds(1))
        }
        try await producing.value
        run.cancel()
        await run.value
        #expect(checks > 10)
        #expect(try store.labels(after: 0, limit: 2_000).count == Int(events))
    }

    /// A transaction that fails is retried until the database takes it: its labels and the
    /// cursor wait together, nothing is dropped.
    @Test func aFailedTransactionIsRetriedNotDropped() async throws {
        let path = temporaryPath("labels.sqlite")
        let store = try LabelStore(path: path)
        // The database refuses label rows while `refuse` holds a row.
        let admin = try DatabaseQueue(path: path)
        try await admin.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE refuse (x INTEGER);
                    INSERT INTO refuse VALUES (1);
                    CREATE TRIGGER refuse_labels BEFORE INSERT ON label WHEN EXISTS (SELECT 1 FROM refuse)
                    BEGIN SELECT RAISE(ABORT, 'refused for the test'); END;
                    """)
        }
        let writer = try LabelWriter(
            store: store, src: "did:plc:labeler", key: .generate(.secp256k1),
            configuration: .init(retryDelay: .milliseconds(10)), logger: quietLogger(), eventSource: "relay test")
        writer.cursorAdvanced(to: 42)
        let run = Task { await writer.run() }
        try await writer.enqueue([
            LabelChange(action: .apply, subject: try LabelSubject("did:plc:a"), val: "spam", origin: .rule(id: "r"))
        ])
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        while writer.totals.failedTransactions < 3 && clock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(writer.totals.failedTransactions >= 3)
        #expect(try store.labels(after: 0, limit: 10).isEmpty)
        #expect(try store.cursor(for: "relay test") == nil)  // the cursor waits with the labels
        try await admin.write { db in try db.execute(sql: "DELETE FROM refuse") }
        while writer.totals.labels < 1 && clock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        run.cancel()
        await run.value
        #expect(try store.labels(after: 0, limit: 10).map(\.label.uri) == ["did:plc:a"])
        #expect(try store.cursor(for: "relay test") == 42)
    }

    /// A relay whose sequence restarted: what was queued before is committed under the old
    /// cursor, then the cursor is dropped and the old seqs are forgotten, so the new sequence's
    /// low seqs label again; a cursor of the old sequence read before the restart is never stored
    /// after it.
    @Test func aSourceRestartCommitsWhatCameBeforeAndForgetsTheOldSequence() async throws {
        let store = try LabelStore(path: temporaryPath("labels.sqlite"))
        let writer = try LabelWriter(
            store: store, src: "did:plc:labeler", key: .generate(.secp256k1), logger: quietLogger(),
            eventSource: "relay r")
        writer.cursorAdvanced(to: 500)
        let run = Task { await writer.run() }
        func change(_ action: LabelChange.Action, event: Int64) throws -> LabelChange {
            LabelChange(
                action: action, subject: try LabelSubject("at://did:plc:a/app.bsky.feed.post/1"), val: "spam",
                origin: .rule(id: "r"),
                eventSeq: event)
        }
        try await writer.enqueue([change(.apply, event: 400)])
        // The old sequence's events are all done; the restart drops its mark.
        try await writer.restartSource()
        #expect(try store.cursor(for: "relay r") == nil)
        // Seq 3 of the new sequence is below the old 400, and still counts.
        #expect(try await writer.submit([change(.negate, event: 3)]).count == 1)
        writer.cursorAdvanced(to: 3)
        run.cancel()
        await run.value
        #expect(try store.cursor(for: "relay r") == 3)
        #expect(
            try store.history(of: try LabelSubject("at://did:plc:a/app.bsky.feed.post/1")).map(\.action) == [
                .apply, .negate,
            ])
    }

    /// The cursor only moves forward within a sequence: a mark older than one already given is
    /// ignored, and a writer with no stream stores no cursor whatever it is given.
    @Test func anOlderMarkNeverMovesTheCursorBack() async throws {
        let store = try LabelStore(path: temporaryPath("labels.sqlite"))
        let writer = try LabelWriter(
            store: store, src: "did:plc:labeler", key: .generate(.secp256k1), logger: quietLogger(),
            eventSource: "relay r")
        let run = Task { await writer.run() }
        writer.cursorAdvanced(to: 10)
        writer.cursorAdvanced(to: 7)
        _ = try await writer.submit([
            LabelChange(action: .apply, subject: try LabelSubject("did:plc:a"), val: "spam", origin: .rule(id: "r"))
        ])
        run.cancel()
        await run.value
        #expect(try store.cursor(for: "relay r") == 10)

        let other = try LabelStore(path: temporaryPath("labels.sqlite"))
        let streamless = try LabelWriter(
            store: other, src: "did:plc:labeler", key: .generate(.secp256k1), logger: quietLogger())
        let running = Task { await streamless.run() }
        streamless.cursorAdvanced(to: 10)
        _ = try await streamless.submit([
            LabelChange(action: .apply, subject: try LabelSubject("did:plc:a"), val: "spam", origin: .rule(id: "r"))
        ])
        running.cancel()
        await running.value
        #expect(try other.statistics().cursors.isEmpty)
    }

    /// A change made to resolve a report keeps the report's id and the note in the label's
    /// history, for `labels explain`.
    @Test func aReportsResolutionIsInTheLabelsHistory() async throws {
        let store = try LabelStore(path: temporaryPath("labels.sqlite"))
        let writer = try LabelWriter(
            store: store, src: "did:plc:labeler", key: .generate(.secp256k1), logger: quietLogger())
        let run = Task { await writer.run() }
        let subject = try LabelSubject("did:plc:spammeraaaaaaaaaaaaaaaaa")
        let rows = try await writer.submit([
            LabelChange(
                action: .apply, subject: subject, val: "spam", origin: .manual(actor: "mod"), reason: "confirmed",
                reportID: 7)
        ])
        _ = try await writer.submit([
            LabelChange(action: .negate, subject: subject, val: "spam", origin: .manual(actor: "mod"))
        ])
        run.cancel()
        await run.value
        let history = try store.history(of: subject)
        #expect(history.map(\.reportID) == [7, nil])
        #expect(history.first?.reason == "confirmed" && history.first?.seq == rows.first?.seq)
    }

    /// Stopping while a transaction is being committed still commits it, and the final cursor
    /// covers only what is stored.
    @Test func stoppingNeverCutsATransactionShort() async throws {
        let store = try LabelStore(path: temporaryPath("labels.sqlite"))
        let writer = try LabelWriter(
            store: store, src: "did:plc:labeler", key: .generate(.secp256k1), logger: quietLogger(),
            eventSource: "relay r")
        writer.cursorAdvanced(to: 0)
        let run = Task { await writer.run() }
        var queued = 0
        for n in 1...2_000 {
            do {
                try await writer.enqueue([
                    LabelChange(
                        action: .apply, subject: try LabelSubject("at://did:plc:a/app.bsky.feed.post/\(n)"),
                        val: "spam",
                        origin: .rule(id: "r"),
                        eventSeq: Int64(n))
                ])
            } catch is LabelWriter.Stopped {
                break
            }
            queued = n
            writer.cursorAdvanced(to: Int64(n))
            if n == 1_000 { run.cancel() }
        }
        await run.value
        let stored = try store.labels(after: 0, limit: 5_000).count
        let cursor = try #require(try store.cursor(for: "relay r"))
        // Everything queued before the stop is stored, and the cursor passes nothing unstored.
        #expect(queued >= 1_000)
        #expect(stored == queued)
        #expect(cursor <= Int64(stored))
        #expect(writer.totals.failedTransactions == 0)
    }
}

/// Limits and refusals of the writer.
@Suite struct LabelWriterLimitTests {
    /// A one-off command's writer gives up after its attempts, and the submitter hears why; a
    /// restart of a source needs the writer to know which source.
    @Test func aWriterWithLimitedAttemptsGivesUpAndSaysWhy() async throws {
        let store = try LabelStore(path: temporaryPath("labels.sqlite"))
        let writer = try LabelWriter(
            store: store, src: "did:plc:labeler", key: .generate(.secp256k1),
            configuration: .init(retryDelay: .milliseconds(1), attempts: 2), logger: quietLogger())
        let run = Task { await writer.run() }
        let error = await #expect(throws: LabelStore.Error.self) { try await writer.restartSource() }
        #expect(error?.description == "a source restart with no source named")
        #expect(writer.totals.failedTransactions == 2)
        // The writer goes on with the next submission.
        let rows = try await writer.submit([
            LabelChange(action: .apply, subject: try LabelSubject("did:plc:x"), val: "spam", origin: .rule(id: "r"))
        ])
        #expect(rows.count == 1)
        run.cancel()
        await run.value
    }

    /// Memory holds the accounts whose hits can still count; beyond its capacity, those whose
    /// hits have all left their window are forgotten, and counts stay what the store says.
    @Test func thresholdCountsForgetExpiredAccountsBeyondCapacity() throws {
        let store = try LabelStore(path: temporaryPath("labels.sqlite"))
        let counts = StoredThresholdCounts(store: store, capacity: 2)
        let hour: Int64 = 3_600_000_000
        for n in 0..<3 {
            counts.record([CounterBump(ruleID: "r", did: "did:plc:a\(n)", time: hour, window: hour)], from: nil)
        }
        #expect(counts.accountsHeld == 3)  // all still inside their window
        #expect(counts.count(ruleID: "r", did: "did:plc:a0", since: 0, before: nil) == 1)
        // A hit three hours later: the others have left their window and go.
        counts.record([CounterBump(ruleID: "r", did: "did:plc:b", time: 4 * hour, window: hour)], from: nil)
        #expect(counts.accountsHeld == 1)
        #expect(counts.count(ruleID: "r", did: "did:plc:a0", since: 3 * hour, before: nil) == 0)
        #expect(counts.count(ruleID: "r", did: "did:plc:b", since: 3 * hour, before: nil) == 1)
    }
}
