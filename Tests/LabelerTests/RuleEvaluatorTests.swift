import ATCrypto
import ATProto
import Foundation
import Glibc
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

    func post(_ n: Int, _ text: String, time: String? = nil) throws -> RepoEvent {
        let record = try DataModelJSON.parseObject(
            #"{"$type":"app.bsky.feed.post","text":"\#(text)","createdAt":"2026-01-01T00:00:00.000Z"}"#)
        let op = RepoOp(
            action: .create, collection: Collections.post, rkey: "3k\(n)aaaaaaaaaa",
            cid: CID.compute(for: CBOREncoder.encode(record)), record: record)
        return .commit(
            CommitEvent(
                seq: Int64(n), repo: try DID("did:plc:spammer"), rev: "3k\(n)aaaaaaaaaa", since: nil, commit: nil,
                prevData: nil,
                time: time ?? "2026-01-01T00:00:0\(n).000Z", ops: [op]))
    }

    /// The service's path for one process: rules → `EventLabeler` → `LabelWriter` → the store,
    /// the threshold hits stored with the event's labels.
    struct OneProcess {
        let store: LabelStore
        let labeler: EventLabeler
        let running: Task<Void, Never>

        init(path: String, rules: RuleSet) throws {
            store = try LabelStore(path: path)
            let writer = try LabelWriter(
                store: store, src: "did:plc:labeler", key: .generate(.secp256k1), logger: quietLogger(),
                eventSource: "relay x")
            labeler = EventLabeler(
                evaluator: RuleEvaluator(
                    holder: RuleSetHolder(rules), counts: StoredThresholdCounts(store: store), eventSource: "relay x"),
                writer: writer, logger: quietLogger())
            running = Task { await writer.run() }
        }

        /// The labels the rules asked for on `event`, by value.
        func handle(_ event: RepoEvent) async throws -> [String: Int] {
            let before = labeler.totals.byValue
            try await labeler.handle(seq: event.seq ?? 0, event: event)
            return labeler.totals.byValue.merging(before) { $0 - $1 }.filter { $0.value > 0 }
        }

        /// Stops, with everything queued committed (as a graceful stop does).
        func stop() async {
            running.cancel()
            await running.value
        }
    }

    @Test func thresholdCountsSurviveARestart() async throws {
        let path = temporaryPath("labels.sqlite")
        let rules = try loadRules()
        let first = try OneProcess(path: path, rules: rules)
        for n in 1...2 { #expect(try await first.handle(post(n, "a badword here")) == ["spam": 1]) }
        await first.stop()
        #expect(try first.store.thresholdCount(ruleID: "repeat", did: "did:plc:spammer", since: 0) == 2)
        // A new process: a fresh store handle and counts on the same database.
        let second = try OneProcess(path: path, rules: rules)
        #expect(try await second.handle(post(3, "badword again")) == ["spam": 1, "spam-account": 1])
        // Outside the window, earlier matches no longer count.
        #expect(try await second.handle(post(4, "badword", time: "2026-01-02T01:00:04.000Z")) == ["spam": 1])
        await second.stop()
        // The old hits left the table when the new one was stored.
        #expect(try second.store.thresholdCount(ruleID: "repeat", did: "did:plc:spammer", since: 0) == 1)
    }

    /// An event handled again after a crash (its hits already stored, its labels perhaps not)
    /// must decide exactly as it did the first time: its own hits neither count twice nor count
    /// toward itself.
    @Test func anEventHandledAgainCountsAsTheFirstTime() async throws {
        let path = temporaryPath("labels.sqlite")
        let rules = try loadRules()
        let first = try OneProcess(path: path, rules: rules)
        #expect(try await first.handle(post(1, "a badword here"))["spam-account"] == nil)
        #expect(try await first.handle(post(2, "a badword here"))["spam-account"] == nil)
        await first.stop()
        // The restart: event 2 again. Counting its own stored hit would make it the third.
        let second = try OneProcess(path: path, rules: rules)
        #expect(try await second.handle(post(2, "a badword here"))["spam-account"] == nil)
        await second.stop()
        #expect(try second.store.thresholdCount(ruleID: "repeat", did: "did:plc:spammer", since: 0) == 2)
        // Event 3 is the third, also when handled again in the same process.
        let third = try OneProcess(path: path, rules: rules)
        #expect(try await third.handle(post(3, "a badword here"))["spam-account"] == 1)
        #expect(try await third.handle(post(3, "a badword here"))["spam-account"] == 1)
        await third.stop()
        #expect(try third.store.thresholdCount(ruleID: "repeat", did: "did:plc:spammer", since: 0) == 3)
    }

    @Test func inMemoryCountsForReplay() throws {
        let evaluator = RuleEvaluator(holder: RuleSetHolder(try loadRules()))
        var fired: [String] = []
        for n in 1...3 {
            fired += evaluator.evaluate(try post(n, "badword"), time: Int64(n) * 1_000_000).flatMap(\.labels).map(
                \.value)
        }
        #expect(fired.filter { $0 == "spam-account" }.count == 1)
        #expect(evaluator.evaluate(.info(InfoMessage(name: "x")), time: 0).isEmpty)
    }
}

@Suite(.serialized) struct RuleReloaderTests {
    /// The whole suite runs in parallel on two cores, often beside a build: there, tests that
    /// take a second alone were seen taking seventy, so a reload may wait that long for a thread.
    static let generous: Duration = .seconds(300)

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
        let reloader = RuleReloader(
            holder: holder, directory: dir, pollInterval: .milliseconds(50), logger: quietLogger())
        reloader.listenForSIGHUP()
        let task = Task { await reloader.run() }

        // A file change is picked up (the reloader took its reference state when it was made).
        try writeRules(dir, label: "second-label-x")
        try await waitUntil("the changed file loaded", timeout: Self.generous) {
            holder.current.rules.first?.label == "second-label-x"
        }
        #expect(holder.current.rules.first?.label == "second-label-x")

        // A broken file is refused; the running set stays.
        try "rules:\n  - id: r\n    on: [post]\n    match: {regex: \"(\"}\n    label: x\n".write(
            toFile: dir + "/r.yaml", atomically: true, encoding: .utf8)
        try await waitUntil("the broken file refused", timeout: Self.generous) { holder.failedReloads > 0 }
        #expect(holder.failedReloads >= 1)
        #expect(holder.current.rules.first?.label == "second-label-x")

        // SIGHUP reloads (the file is fixed, then the signal arrives).
        try writeRules(dir, label: "third")
        let generation = holder.generation
        kill(getpid(), SIGHUP)
        try await waitUntil("the SIGHUP reload", timeout: Self.generous) {
            holder.current.rules.first?.label == "third" && holder.generation > generation
        }
        #expect(holder.current.rules.first?.label == "third")
        task.cancel()
        await task.value
    }
}
