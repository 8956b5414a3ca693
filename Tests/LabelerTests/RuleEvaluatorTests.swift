import Glibc
import ATProto
import Foundation
import LabelStore
import Rules
import TestSupport
import Testing

@testable import Labeler

@Suite struct RuleEvaluatorTests {
    static let rules = """
        rules:
          - id: bad
            on: [post]
            match: {keywords: [badword]}
            label: spam
          - id: repeat
            on: [post]
            match: {rule: bad}
            threshold: {count: 3, within: 24h}
            label: spam-account
            subject: account
        """

    func loadRules() throws -> RuleSet {
        let dir = temporaryPath("rules")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Self.rules.write(toFile: dir + "/r.yaml", atomically: true, encoding: .utf8)
        return try RuleSet.load(directory: dir)
    }

    func post(_ n: Int, _ text: String) throws -> RepoEvent {
        let record = try DataModelJSON.parseObject(#"{"$type":"app.bsky.feed.post","text":"\#(text)","createdAt":"2026-01-01T00:00:00.000Z"}"#)
        let op = RepoOp(action: .create, collection: Collections.post, rkey: "3k\(n)aaaaaaaaaa", cid: CID.compute(for: CBOREncoder.encode(record)), record: record)
        return .commit(CommitEvent(seq: Int64(n), repo: "did:plc:spammer", rev: "3k\(n)aaaaaaaaaa", since: nil, commit: nil, prevData: nil, time: "2026-01-01T00:00:0\(n).000Z", ops: [op]))
    }

    @Test func thresholdCountsSurviveARestart() throws {
        let path = temporaryPath("labels.sqlite")
        let set = try loadRules()
        let t0: Int64 = 1_767_225_600_000_000
        do {
            let evaluator = RuleEvaluator(holder: RuleSetHolder(set), counts: StoredThresholdCounts(store: try LabelStore(path: path)))
            for n in 1...2 {
                let effects = evaluator.evaluate(try post(n, "a badword here"), time: t0 + Int64(n) * 1_000_000)
                #expect(effects.flatMap(\.labels).map(\.value) == ["spam"])
            }
        }
        // A new process: a fresh store handle and evaluator on the same database.
        let evaluator = RuleEvaluator(holder: RuleSetHolder(set), counts: StoredThresholdCounts(store: try LabelStore(path: path)))
        let third = evaluator.evaluate(try post(3, "badword again"), time: t0 + 3_000_000)
        let labels = third.flatMap(\.labels)
        #expect(Set(labels.map(\.value)) == ["spam", "spam-account"])
        #expect(labels.first { $0.value == "spam-account" }?.subject.uri == "did:plc:spammer")
        // Outside the window, earlier matches no longer count.
        let later = evaluator.evaluate(try post(4, "badword"), time: t0 + 3_000_000 + 25 * 3_600_000_000)
        #expect(later.flatMap(\.labels).map(\.value) == ["spam"])
    }

    /// An event handled again after a crash (its hits already stored, its labels perhaps not)
    /// must decide exactly as it did the first time: its own hits neither count twice nor count
    /// toward itself.
    @Test func anEventHandledAgainCountsAsTheFirstTime() throws {
        let path = temporaryPath("labels.sqlite")
        let set = try loadRules()
        let store = try LabelStore(path: path)
        let evaluator = RuleEvaluator(holder: RuleSetHolder(set), counts: StoredThresholdCounts(store: store), eventSource: "relay x")
        let t0: Int64 = 1_767_225_600_000_000
        func accountLabels(_ n: Int) throws -> [String] {
            try evaluator.evaluate(post(n, "a badword here"), time: t0 + Int64(n) * 1_000_000).flatMap(\.labels).map(\.value)
                .filter { $0 == "spam-account" }
        }
        #expect(try accountLabels(1).isEmpty)
        #expect(try accountLabels(2).isEmpty)
        // The restart: event 2 again. Counting its own stored hit would make it the third.
        #expect(try accountLabels(2).isEmpty)
        #expect(try store.thresholdCount(ruleID: "repeat", did: "did:plc:spammer", since: 0) == 2)
        // Event 3 is the third.
        #expect(try accountLabels(3) == ["spam-account"])
        #expect(try accountLabels(3) == ["spam-account"])
        #expect(try store.thresholdCount(ruleID: "repeat", did: "did:plc:spammer", since: 0) == 3)
    }

    @Test func inMemoryCountsForReplay() throws {
        let evaluator = RuleEvaluator(holder: RuleSetHolder(try loadRules()))
        var fired: [String] = []
        for n in 1...3 { fired += evaluator.evaluate(try post(n, "badword"), time: Int64(n) * 1_000_000).flatMap(\.labels).map(\.value) }
        #expect(fired.filter { $0 == "spam-account" }.count == 1)
        #expect(evaluator.evaluate(.info(InfoMessage(name: "x")), time: 0).isEmpty)
    }
}

@Suite(.serialized) struct RuleReloaderTests {
    func writeRules(_ dir: String, label: String) throws {
        try """
            rules:
              - id: r
                on: [post]
                match: {keywords: [hello]}
                label: \(label)
            """.write(toFile: dir + "/r.yaml", atomically: true, encoding: .utf8)
    }

    @Test func fileChangesAndSIGHUPReloadAndABrokenSetIsNeverUsed() async throws {
        let dir = temporaryPath("rules")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try writeRules(dir, label: "first")
        let holder = RuleSetHolder(try RuleSet.load(directory: dir))
        let reloader = RuleReloader(holder: holder, directory: dir, pollInterval: .milliseconds(50), logger: quietLogger())
        reloader.listenForSIGHUP()
        let task = Task { await reloader.run() }

        // A file change is picked up (the reloader took its reference state when it was made).
        try writeRules(dir, label: "second-label-x")
        try await waitUntil("the changed file loaded") { holder.current.rules.first?.label == "second-label-x" }
        #expect(holder.current.rules.first?.label == "second-label-x")

        // A broken file is refused; the running set stays.
        try "rules:\n  - id: r\n    on: [post]\n    match: {regex: \"(\"}\n    label: x\n".write(
            toFile: dir + "/r.yaml", atomically: true, encoding: .utf8)
        try await waitUntil("the broken file refused") { holder.failedReloads > 0 }
        #expect(holder.failedReloads >= 1)
        #expect(holder.current.rules.first?.label == "second-label-x")

        // SIGHUP reloads (the file is fixed, then the signal arrives).
        try writeRules(dir, label: "third")
        let generation = holder.generation
        kill(getpid(), SIGHUP)
        try await waitUntil("the SIGHUP reload") {
            holder.current.rules.first?.label == "third" && holder.generation > generation
        }
        #expect(holder.current.rules.first?.label == "third")
        task.cancel()
        await task.value
    }
}
