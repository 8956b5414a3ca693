import ATCrypto
import ATProto
import Foundation
import Labeler
import TestSupport
import Testing

@testable import LabelStore

/// Reports in the label database: filed, deduplicated per reporter and subject, listed, with
/// their history.
@Suite struct ReportStoreTests {
    let alice = "did:plc:aliceaaaaaaaaaaaaaaaaaaa"
    let bob = "did:plc:bobaaaaaaaaaaaaaaaaaaaaa"
    let spammer = "did:plc:spammeraaaaaaaaaaaaaaaaa"
    static let spam = "com.atproto.moderation.defs#reasonSpam"

    func post(_ rkey: String) -> ReportSubject {
        .record(uri: "at://\(spammer)/app.bsky.feed.post/\(rkey)", cid: "bafyreib2rxk3rh6kzwq")
    }

    @Test func aReportIsFiledOpenWithItsHistory() throws {
        let store = try LabelStore(path: temporaryPath("reports.sqlite"))
        let (report, deduplicated) = try store.fileReport(
            NewReport(
                reasonType: Self.spam, reason: "buy now", subject: post("1"), reportedBy: alice,
                createdAt: "2026-01-01T00:00:00.000Z"))
        #expect(!deduplicated)
        #expect(report.state == .open)
        #expect(try store.report(id: report.id) == report)
        #expect(try store.reportActions(id: report.id).map(\.action) == ["filed"])
        #expect(try store.report(id: report.id + 1) == nil)
    }

    @Test func theSameReporterAndSubjectIsOneReport() throws {
        let store = try LabelStore(path: temporaryPath("reports.sqlite"))
        let first = try store.fileReport(
            NewReport(
                reasonType: Self.spam, reason: "one", subject: post("1"), reportedBy: alice,
                createdAt: "2026-01-01T00:00:00.000Z"))
        // Another CID of the same record is the same subject.
        let again = try store.fileReport(
            NewReport(
                reasonType: "com.atproto.moderation.defs#reasonRude", reason: "two",
                subject: .record(uri: first.report.subject.key, cid: "bafyother"), reportedBy: alice,
                createdAt: "2026-01-01T00:01:00.000Z"))
        #expect(again.deduplicated)
        #expect(again.report == first.report)
        let history = try store.reportActions(id: first.report.id)
        #expect(history.map(\.action) == ["filed", "repeated"])
        #expect(history.last?.reason == "two")
        // Another reporter, or another subject, is another report.
        let byBob = try store.fileReport(
            NewReport(
                reasonType: Self.spam, reason: nil, subject: post("1"), reportedBy: bob,
                createdAt: "2026-01-01T00:02:00.000Z"))
        #expect(!byBob.deduplicated && byBob.report.id != first.report.id)
        let account = try store.fileReport(
            NewReport(
                reasonType: Self.spam, reason: nil, subject: .account(did: spammer), reportedBy: alice,
                createdAt: "2026-01-01T00:03:00.000Z"))
        #expect(!account.deduplicated)
        #expect(try store.reportCount() == 3)
    }

    /// A muted reporter's reports are stored muted and left out of the list unless asked for;
    /// a mute with an end is over at its end; unmuting says whether there was one.
    @Test func mutedReportersReportsAreKeptOutOfReview() throws {
        let store = try LabelStore(path: temporaryPath("reports.sqlite"))
        func file(_ rkey: String, by reporter: String, at time: String) throws -> StoredReport {
            try store.fileReport(
                NewReport(
                    reasonType: Self.spam, reason: nil, subject: post(rkey), reportedBy: reporter, createdAt: time)
            ).report
        }
        let before = try file("1", by: alice, at: "2026-01-01T00:00:00.000Z")
        try store.muteReporter(
            alice, until: "2026-01-31T00:00:00Z", actor: "mod", note: "floods", at: "2026-01-01T00:01:00.000Z")
        #expect(try store.reporterMute(alice, at: "2026-01-02T00:00:00.000Z")?.note == "floods")
        let during = try file("2", by: alice, at: "2026-01-02T00:00:00.000Z")
        let byBob = try file("2", by: bob, at: "2026-01-02T00:00:01.000Z")
        let after = try file("3", by: alice, at: "2026-01-31T00:00:00.000Z")
        #expect(!before.muted && during.muted && !byBob.muted && !after.muted)
        #expect(try store.report(id: during.id)?.muted == true)
        #expect(try store.reports().map(\.id) == [after.id, byBob.id, before.id])
        #expect(try store.reports(muted: true).map(\.id) == [during.id])
        #expect(try store.reports(subject: spammer, muted: true).map(\.id) == [during.id])
        #expect(during.jsonLine.contains(#""muted":true"#))
        // Ended mutes are not in force; a mute until unmuted is.
        #expect(try store.reporterMute(alice, at: "2026-01-31T00:00:00.000Z") == nil)
        try store.muteReporter(bob, until: nil, actor: nil, note: nil, at: "2026-02-01T00:00:00.000Z")
        #expect(try store.reporterMutes(at: "2030-01-01T00:00:00.000Z").map(\.did) == [bob])
        #expect(try file("4", by: bob, at: "2030-01-01T00:00:00.000Z").muted)
        #expect(try store.unmuteReporter(bob))
        #expect(try !store.unmuteReporter(bob))
        #expect(try !file("5", by: bob, at: "2030-01-01T00:00:01.000Z").muted)
        // A repeat of a report filed before the mute stays where it was.
        try store.muteReporter(alice, until: nil, actor: nil, note: nil, at: "2030-01-01T00:00:00.000Z")
        let repeated = try store.fileReport(
            NewReport(
                reasonType: Self.spam, reason: "again", subject: post("1"), reportedBy: alice,
                createdAt: "2030-01-02T00:00:00.000Z"))
        #expect(repeated.deduplicated && !repeated.report.muted)
    }

    /// Closing a report moves it to resolved or dismissed with a history entry; a closed report is
    /// not closed again.
    @Test func aReportIsClosedOnce() throws {
        let store = try LabelStore(path: temporaryPath("reports.sqlite"))
        let report = try store.fileReport(
            NewReport(
                reasonType: Self.spam, reason: nil, subject: post("1"), reportedBy: alice,
                createdAt: "2026-01-01T00:00:00.000Z")
        ).report
        let closed = try store.closeReport(
            id: report.id, as: .resolved, actor: "mod", note: "confirmed", outcome: "applied spam (seq 3)",
            at: "2026-01-02T00:00:00.000Z")
        #expect(closed.state == .resolved && closed.updatedAt == "2026-01-02T00:00:00.000Z")
        #expect(try store.report(id: report.id) == closed)
        let last = try #require(try store.reportActions(id: report.id).last)
        #expect(last.action == "resolved" && last.actor == "mod" && last.note == "confirmed")
        #expect(last.reason == "applied spam (seq 3)")
        #expect(try store.reports(state: .resolved).map(\.id) == [report.id])
        #expect {
            _ = try store.closeReport(
                id: report.id, as: .dismissed, actor: nil, note: nil, outcome: nil, at: "2026-01-03T00:00:00.000Z")
        } throws: { ($0 as? LabelStore.Error)?.description == "report 1 is already resolved" }
        #expect {
            _ = try store.closeReport(id: 99, as: .dismissed, actor: nil, note: nil, outcome: nil, at: "2026")
        } throws: { ($0 as? LabelStore.Error)?.description == "no report 99" }
        #expect(throws: LabelStore.Error.self) {
            _ = try store.closeReport(id: report.id, as: .open, actor: nil, note: nil, outcome: nil, at: "2026")
        }
    }

    /// An appeal is linked to the labels on its subject when it is filed: applied, unexpired and
    /// not negated ones. Other reports are not appeals.
    @Test func anAppealIsLinkedToTheLabelsOnItsSubject() async throws {
        let store = try LabelStore(path: temporaryPath("reports.sqlite"))
        let writer = try LabelWriter(
            store: store, src: "did:plc:labeler", key: .generate(.secp256k1), logger: quietLogger())
        let run = Task { await writer.run() }
        let record = post("1")
        let subject = try LabelSubject(record.key)
        let origin = LabelChange.Origin.manual(actor: "mod")
        _ = try await writer.submit([
            LabelChange(action: .apply, subject: subject, val: "spam", origin: origin),
            LabelChange(action: .apply, subject: subject, cid: "bafyreib2rxk3rh6kzwq", val: "rude", origin: origin),
            LabelChange(action: .apply, subject: subject, val: "porn", origin: origin),
            LabelChange(action: .apply, subject: subject, val: "old", exp: "2026-01-01T00:00:00.000Z", origin: origin),
            LabelChange(action: .apply, subject: try LabelSubject(post("2").key), val: "spam", origin: origin),
        ])
        _ = try await writer.submit([LabelChange(action: .negate, subject: subject, val: "porn", origin: origin)])
        run.cancel()
        await run.value

        let appeal = try store.fileReport(
            NewReport(
                reasonType: "com.atproto.moderation.defs#reasonAppeal", reason: "not spam", subject: record,
                reportedBy: spammer, createdAt: "2026-06-01T00:00:00.000Z")
        ).report
        #expect(appeal.appeal?.map(\.val) == ["spam", "rude"])
        #expect(appeal.appeal?.map(\.cid) == [nil, "bafyreib2rxk3rh6kzwq"])
        #expect(appeal.appeal?.allSatisfy { $0.uri == record.key && $0.src == "did:plc:labeler" } == true)
        #expect(try store.report(id: appeal.id) == appeal)
        #expect(try store.reports().first == appeal)
        #expect(appeal.jsonLine.contains(#""appeal":[{"val":"spam","uri":"\#(record.key)","cid":null"#))
        let report = try store.fileReport(
            NewReport(
                reasonType: Self.spam, reason: nil, subject: record, reportedBy: alice,
                createdAt: "2026-06-01T00:00:00.000Z")
        ).report
        #expect(report.appeal == nil && report.jsonLine.hasSuffix(#""appeal":null}"#))
        #expect(ReportSubject.account(did: spammer).ownerDID == spammer && record.ownerDID == spammer)
    }

    @Test func reportsAreListedByStateAndSubject() throws {
        let store = try LabelStore(path: temporaryPath("reports.sqlite"))
        let other = "did:plc:otheraaaaaaaaaaaaaaaaaaa"
        for (i, subject) in [post("1"), post("2"), .account(did: spammer), .account(did: other)].enumerated() {
            _ = try store.fileReport(
                NewReport(
                    reasonType: Self.spam, reason: nil, subject: subject, reportedBy: alice,
                    createdAt: "2026-01-01T00:0\(i):00.000Z"))
        }
        #expect(try store.reports().map(\.id) == [4, 3, 2, 1])
        #expect(try store.reports(subject: spammer).map(\.id) == [3, 2, 1])
        #expect(try store.reports(subject: post("2").key).map(\.id) == [2])
        #expect(try store.reports(subject: other).map(\.id) == [4])
        #expect(try store.reports(state: .open).count == 4)
        #expect(try store.reports(state: .dismissed).isEmpty)
        #expect(try store.reports(limit: 1).map(\.id) == [4])
    }

    @Test func aReportListsAsOneJSONObjectPerLine() throws {
        let store = try LabelStore(path: temporaryPath("reports.sqlite"))
        let (report, _) = try store.fileReport(
            NewReport(
                reasonType: Self.spam, reason: "line one\nline \"two\"", subject: post("1"), reportedBy: alice,
                createdAt: "2026-01-01T00:00:00.000Z"))
        let line = report.jsonLine
        #expect(!line.contains("\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        for key in ["id", "reason_type", "reason", "subject", "reported_by", "state", "created_at", "appeal"] {
            #expect(object[key] != nil, "\(key)")
        }
        #expect(object["reason"] as? String == "line one\nline \"two\"")
        #expect(object["subject"] as? String == post("1").key)
        #expect(object["state"] as? String == "open")
        #expect(object["appeal"] is NSNull)
    }
}
