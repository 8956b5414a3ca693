import ATProto
import Foundation
import Logging
import Rules
import TestSupport
import Testing

@testable import Labeler

/// A canary (`rollout:`) in the service's handler: labels for the accounts it covers, counted dry
/// runs and `would label` debug lines for the others.
@Suite struct CanaryTallyTests {
    static func post(_ n: Int, by did: String, _ text: String) throws -> RepoEvent {
        let record = try DataModelJSON.parseObject(
            #"{"$type":"app.bsky.feed.post","text":"\#(text)","createdAt":"2026-01-01T00:00:00.000Z"}"#)
        let op = RepoOp(
            action: .create, collection: Collections.post, rkey: "3k\(n)aaaaaaaaaa",
            cid: CID.compute(for: CBOREncoder.encode(record)), record: record)
        return .commit(
            CommitEvent(
                seq: Int64(n), repo: try DID(did), rev: "3k\(n)aaaaaaaaaa", since: nil, commit: nil, prevData: nil,
                time: "2026-01-01T00:00:0\(n).000Z", ops: [op]))
    }

    @Test func accountsOutsideTheRolloutAreCountedAndLoggedAsWouldBe() async throws {
        let folder = temporaryPath("canary")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try "rules:\n  - {id: canary, on: [post], label: spam, rollout: 50%, match: {keywords: [giveaway]}}\n".write(
            toFile: folder + "/r.yaml", atomically: true, encoding: .utf8)
        let lines = Locked<[String]>([])
        let logger = Logger(label: "test") { label in
            JSONLogHandler(label: label, level: .debug, write: { line in lines.withLock { $0.append(line) } })
        }
        let labeler = EventLabeler(
            evaluator: RuleEvaluator(holder: RuleSetHolder(try RuleSet.load(directory: folder))), writer: nil,
            logger: logger)
        // did:plc:bob is in bucket 2736 (in at 50%), did:plc:alice in bucket 6219 (out).
        try await labeler.handle(seq: 1, event: Self.post(1, by: "did:plc:bob", "a giveaway"))
        try await labeler.handle(seq: 2, event: Self.post(2, by: "did:plc:alice", "a giveaway"))
        try await labeler.handle(seq: 3, event: Self.post(3, by: "did:plc:alice", "another giveaway"))
        let totals = labeler.totals
        #expect(totals.labels == 1)
        #expect(totals.dryRun == 2)
        #expect(totals.dryRunByRule == ["canary": 2])
        #expect(totals.byRule == ["canary": 3])
        let wouldBe = lines.value.filter { $0.contains(#""msg":"would label""#) }
        #expect(wouldBe.count == 2)
        #expect(wouldBe.allSatisfy { $0.contains(#""rule":"canary""#) && $0.contains("did:plc:alice") })
    }
}
