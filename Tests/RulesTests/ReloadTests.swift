import ATProto
import Foundation
import Synchronization
import Testing

@testable import Rules

/// Swapping rule sets while workers evaluate, and noticing file changes.
@Suite struct ReloadTests {
    /// A set whose every rule labels with `marker`: an evaluation that saw a mix of two sets would
    /// report labels from both.
    static func markedSet(_ marker: String) throws -> RuleSet {
        var yaml = "rules:\n"
        for index in 0..<20 {
            yaml += "  - {id: r\(index), on: [post], label: \(marker), match: {keywords: [word\(index)]}}\n"
        }
        yaml += "  - {id: marker, on: [post], label: \(marker), match: {not: {keywords: [nothing-matches-this]}}}\n"
        return try TestSupport.rules(yaml)
    }

    /// State the worker tasks share.
    final class Shared: Sendable {
        let stop = Atomic<Bool>(false)
        let evaluations = Atomic<Int>(0)
        let mixed = Atomic<Int>(0)
        let seen = Mutex<Set<String>>([])
    }

    @Test func swapsUnderLoadNeverMixSets() async throws {
        let sets = [try Self.markedSet("set-a"), try Self.markedSet("set-b"), try Self.markedSet("set-c")]
        let holder = RuleSetHolder(sets[0])
        let shared = Shared()

        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<4 {
                group.addTask {
                    let scratch = RuleScratch()
                    var n = 0
                    while !shared.stop.load(ordering: .relaxed) {
                        let set = holder.current  // once per event
                        let effects = set.evaluate(TestSupport.post("a word\(n % 20) \(worker)"), using: scratch)
                        let markers = Set(effects.labels.map(\.value))
                        // Rule r<n> and the marker rule, both of one set.
                        if markers.count != 1 || effects.labels.count != 2 { shared.mixed.add(1, ordering: .relaxed) }
                        shared.seen.withLock { $0.formUnion(markers) }
                        shared.evaluations.add(1, ordering: .relaxed)
                        n += 1
                        if n % 8 == 0 { await Task.yield() }
                    }
                }
            }
            group.addTask {
                for swap in 1...300 {
                    holder.swap(to: sets[swap % sets.count])
                    await Task.yield()
                }
                shared.stop.store(true, ordering: .relaxed)
            }
        }
        #expect(shared.mixed.load(ordering: .relaxed) == 0)
        #expect(shared.evaluations.load(ordering: .relaxed) > 300)
        let markers = shared.seen.withLock { $0 }
        #expect(markers.isSubset(of: ["set-a", "set-b", "set-c"]))
        #expect(holder.generation == 301)
    }

    @Test func failedReloadKeepsTheRunningSetAndIsCounted() throws {
        let root = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try TestSupport.write(
            "rules:\n  - {id: a, on: [post], label: first, match: {keywords: [x]}}\n", to: root + "/a.yaml")
        let holder = RuleSetHolder(try RuleSet.load(directory: root))

        try TestSupport.write(
            "rules:\n  - {id: a, on: [post], label: Bad Value, match: {keywords: [x]}}\n", to: root + "/a.yaml")
        guard case .failure(let error) = holder.reload(from: root) else {
            Issue.record("a broken set loaded")
            return
        }
        #expect(
            error.diagnostics.map(\.description) == [
                "\(root)/a.yaml:2:32: invalid label value 'Bad Value': use lowercase letters a-z and '-' only"
            ])
        #expect(holder.failedReloads == 1)
        #expect(holder.lastErrors == error.diagnostics)
        #expect(holder.generation == 1)
        #expect(TestSupport.labels(holder.current, TestSupport.post("x")) == ["first"])

        try TestSupport.write(
            "rules:\n  - {id: a, on: [post], label: second, match: {keywords: [x]}}\n", to: root + "/a.yaml")
        guard case .success = holder.reload(from: root) else {
            Issue.record("a valid set failed to load")
            return
        }
        #expect(holder.generation == 2)
        #expect(holder.lastErrors.isEmpty)
        #expect(TestSupport.labels(holder.current, TestSupport.post("x")) == ["second"])
    }

    @Test func scratchFollowsTheSetItIsGiven() throws {
        // One scratch alternating between sets of different sizes.
        let small = try TestSupport.rules("rules:\n  - {id: a, on: [post], label: small, match: {keywords: [x]}}\n")
        let large = try Self.markedSet("large")
        let scratch = RuleScratch()
        for _ in 0..<3 {
            #expect(small.evaluate(TestSupport.post("x word3"), using: scratch).labels.map(\.value) == ["small"])
            #expect(large.evaluate(TestSupport.post("x word3"), using: scratch).labels.count == 2)
        }
    }

    private func changed(_ detector: inout RuleFileChangeDetector) -> Bool { detector.poll() }

    @Test func replacedSetsAreFreedOnceNoEventUsesThem() throws {
        let holder = RuleSetHolder(try Self.markedSet("old"))
        let scratch = RuleScratch()
        weak var old = holder.current
        #expect(Set(TestSupport.labels(holder.current, TestSupport.post("word1"))) == ["old"])
        _ = holder.current.evaluate(TestSupport.post("word1"), using: scratch)
        holder.swap(to: try Self.markedSet("new"))
        // Neither the holder nor the idle worker's scratch keeps the replaced set.
        #expect(old == nil)
        #expect(Set(holder.current.evaluate(TestSupport.post("word1"), using: scratch).labels.map(\.value)) == ["new"])
    }

    /// After a reload the detector keeps the state its poll saw; a list file the new set starts
    /// to read, or stops reading, causes no second reload; later edits, and a rule file deleted
    /// meanwhile, are still seen.
    @Test func watchingNewListsKeepsThePollsReference() throws {
        let root = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try TestSupport.write(
            "rules:\n  - {id: a, on: [post], match: {keywords: {file: one.txt}}}\n", to: root + "/a.yaml")
        try TestSupport.write("one\n", to: root + "/one.txt")
        try TestSupport.write("two\n", to: root + "/two.txt")
        var detector = RuleFileChangeDetector(directory: root, listFiles: [root + "/a.yaml", root + "/one.txt"])
        // The rule now reads two.txt instead; the poll sees the rule file change.
        try TestSupport.write(
            "rules:\n  - {id: a, on: [post], match: {keywords: {file: two.txt}}}\n", to: root + "/a.yaml")
        #expect(changed(&detector))
        detector.watch(listFiles: [root + "/a.yaml", root + "/two.txt"])
        #expect(!changed(&detector), "watching a new list, or dropping an old one, is no change")
        // A later edit of the new list is.
        try TestSupport.write("two\nthree\n", to: root + "/two.txt")
        #expect(changed(&detector))
        // A rule file deleted while a reload runs is still seen as deleted.
        try TestSupport.write("rules: []\n", to: root + "/b.yaml")
        #expect(changed(&detector))
        try FileManager.default.removeItem(atPath: root + "/b.yaml")
        detector.watch(listFiles: [root + "/a.yaml", root + "/two.txt"])
        #expect(changed(&detector))
    }

    @Test func changeDetectorSeesEditsNewFilesAndListFiles() throws {
        let root = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try TestSupport.write(
            "rules:\n  - {id: a, on: [post], match: {keywords: {file: words.txt}}}\n", to: root + "/a.yaml")
        try TestSupport.write("one\n", to: root + "/words.txt")
        let set = try RuleSet.load(directory: root)
        #expect(set.files == ["\(root)/a.yaml", "\(root)/words.txt"])
        var detector = RuleFileChangeDetector(directory: root, listFiles: set.files)
        #expect(!changed(&detector))

        try TestSupport.write("one\ntwo\n", to: root + "/words.txt")
        #expect(changed(&detector))
        #expect(!changed(&detector))

        try TestSupport.write("rules: []\n", to: root + "/b.yaml")
        #expect(changed(&detector))
        try TestSupport.write("cases: []\n", to: root + "/tests/t.yaml")
        #expect(!changed(&detector))  // test cases are not part of the set
        try FileManager.default.removeItem(atPath: root + "/b.yaml")
        #expect(changed(&detector))
    }
}
