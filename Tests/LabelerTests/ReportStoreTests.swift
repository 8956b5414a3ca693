import Foundation
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
