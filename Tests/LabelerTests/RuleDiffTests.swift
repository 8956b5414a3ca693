import Firehose
import Foundation
import GRDB
import SyntheticFirehose
import TestSupport
import Testing

@testable import Labeler

/// `labeler rules diff`: the comparison itself, and its counts against two real replays.
@Suite struct RuleDiffTests {
    typealias Applied = RuleDiff.Applied

    @Test func comparesEndStatesInTotalAndPerRule() {
        let old = [
            Applied(uri: "at://did:plc:a/app.bsky.feed.post/1", val: "spam", ruleID: "giveaway"),
            Applied(uri: "at://did:plc:a/app.bsky.feed.post/2", val: "spam", ruleID: "giveaway"),
            Applied(uri: "at://did:plc:a/app.bsky.feed.post/3", val: "spam", ruleID: "giveaway"),
            Applied(uri: "did:plc:b", val: "spammer", ruleID: "repeat"),
        ]
        let new = [
            Applied(uri: "at://did:plc:a/app.bsky.feed.post/1", val: "spam", ruleID: "giveaway"),
            // The same label, now applied by another rule: unchanged in total, moved per rule.
            Applied(uri: "at://did:plc:a/app.bsky.feed.post/2", val: "spam", ruleID: "shortener"),
            Applied(uri: "at://did:plc:a/app.bsky.feed.post/4", val: "spam", ruleID: "giveaway"),
            Applied(uri: "at://did:plc:a/app.bsky.feed.post/5", val: "spam", ruleID: "giveaway"),
            // Two versions of one record are one label.
            Applied(uri: "at://did:plc:a/app.bsky.feed.post/5", val: "spam", ruleID: "giveaway"),
            Applied(uri: "did:plc:b", val: "spammer", ruleID: "repeat"),
        ]
        var asked: [String] = []
        let diff = RuleDiff.compare(
            from: old, to: new, ruleIDs: ["quiet"], samples: 1,
            details: { run, key in
                asked.append("\(run) \(key.uri)")
                return ("text", "match in \(key.uri.suffix(1))")
            })
        #expect(diff.total == RuleDiff.Counts(added: 2, removed: 1, unchanged: 3))
        #expect(diff.rules["giveaway"] == counts(added: 2, removed: 2, unchanged: 1, diff.rules["giveaway"]))
        #expect(diff.rules["shortener"] == counts(added: 1, removed: 0, unchanged: 0, diff.rules["shortener"]))
        #expect(diff.rules["repeat"] == counts(added: 0, removed: 0, unchanged: 1, diff.rules["repeat"]))
        #expect(diff.rules["quiet"] == counts(added: 0, removed: 0, unchanged: 0, diff.rules["quiet"]))
        // The first sample by URI, with its details from the run that has the label.
        #expect(
            diff.rules["giveaway"]?.samples[.added]
                == [
                    .init(uri: "at://did:plc:a/app.bsky.feed.post/4", val: "spam", field: "text", snippet: "match in 4")
                ])
        #expect(diff.rules["giveaway"]?.samples[.removed]?.map(\.uri) == ["at://did:plc:a/app.bsky.feed.post/2"])
        #expect(asked.contains("from at://did:plc:a/app.bsky.feed.post/2"))
        #expect(asked.contains("to at://did:plc:a/app.bsky.feed.post/4"))
    }

    /// `expected` with the samples of `actual`, so counts are compared alone.
    private func counts(added: Int, removed: Int, unchanged: Int, _ actual: RuleDiff.Counts?) -> RuleDiff.Counts {
        var counts = RuleDiff.Counts(added: added, removed: removed, unchanged: unchanged)
        counts.samples = actual?.samples ?? [:]
        return counts
    }

    // MARK: Against two replays

    static let oldRules = """
        rules:
          - {id: coffee, on: [post], label: coffee, on_no_match: negate, match: {keywords: [coffee]}}
          - {id: rain, on: [post], label: weather, match: {keywords: [rain]}}
          - {id: garden, on: [post], label: outdoors, match: {keywords: [garden]}}
        """
    /// `coffee` widened, `rain` gone, `garden`'s value now applied by `river` as well, a new rule.
    static let newRules = """
        rules:
          - {id: coffee, on: [post], label: coffee, on_no_match: negate, match: {keywords: [coffee, train]}}
          - {id: river, on: [post], label: outdoors, match: {keywords: [river]}}
          - {id: garden, on: [post], label: outdoors, match: {all: [{keywords: [garden]}, {not: {keywords: [sky]}}]}}
          - {id: music, on: [post, profile], label: music, match: {keywords: [music]}}
        """

    /// Labels in force in a replay's database, as `uri val` per rule of the latest application.
    static func endState(_ database: String) throws -> [String: Set<String>] {
        let queue = try DatabaseQueue(path: database)
        defer { try? queue.close() }
        let rows = try queue.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT l.uri, l.val, (SELECT h.rule_id FROM label_history h
                        WHERE h.uri = l.uri AND h.cid = l.cid AND h.val = l.val AND h.action = 'apply'
                        ORDER BY h.id DESC LIMIT 1) AS rule
                    FROM label l WHERE l.neg = 0 ORDER BY l.seq
                    """)
        }
        var byKey: [String: String] = [:]
        for row in rows {
            let uri: String = row["uri"]
            let val: String = row["val"]
            byKey["\(uri) \(val)"] = row["rule"]
        }
        return Dictionary(grouping: byKey.keys) { byKey[$0]! }.mapValues { Set($0) }
    }

    static func run(_ arguments: [String], in folder: String, log: String) async throws -> (Int32?, String) {
        let process = try ServiceProcess(arguments, in: folder, environment: [:], log: folder + "/" + log)
        let status = await process.wait(timeout: .seconds(240))
        return (status, process.logText)
    }

    /// The JSON object line of a command's output.
    static func json(_ output: String) throws -> [String: Any] {
        let line = try #require(output.split(separator: "\n").last { $0.hasPrefix("{\"added\"") })
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    @Test(.timeLimit(.minutes(8))) func countsEqualTheDifferenceOfTwoReplays() async throws {
        let folder = temporaryPath("rules-diff")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var generator = SyntheticFirehose(seed: 404, accounts: 200)
        let capture = folder + "/capture.bin"
        let writer = try CaptureWriter(path: capture)
        for message in generator.messages(4_000) { try writer.write(message) }
        try writer.flush()
        for (name, text) in [("old", Self.oldRules), ("new", Self.newRules)] {
            try FileManager.default.createDirectory(atPath: folder + "/" + name, withIntermediateDirectories: true)
            try text.write(toFile: folder + "/\(name)/rules.yaml", atomically: true, encoding: .utf8)
        }

        for name in ["old", "new"] {
            let (status, output) = try await Self.run(
                [
                    "replay", capture, "--rules", name, "--db", "\(name).sqlite", "--key", "replay.key", "--did",
                    "did:plc:diffreplay", "--quiet",
                ], in: folder, log: "replay-\(name).log")
            #expect(status == 0, "\(output.suffix(2000))")
        }
        let old = try Self.endState(folder + "/old.sqlite")
        let new = try Self.endState(folder + "/new.sqlite")
        let oldAll = old.values.reduce(into: Set<String>()) { $0.formUnion($1) }
        let newAll = new.values.reduce(into: Set<String>()) { $0.formUnion($1) }
        // The rules change something in every way this checks.
        #expect(!newAll.subtracting(oldAll).isEmpty)
        #expect(!oldAll.subtracting(newAll).isEmpty)
        #expect((old["coffee"]?.count ?? 0) > 0 && (new["music"]?.count ?? 0) > 0)

        func check(_ report: [String: Any]) {
            #expect(report["added"] as? Int == newAll.subtracting(oldAll).count)
            #expect(report["removed"] as? Int == oldAll.subtracting(newAll).count)
            #expect(report["unchanged"] as? Int == newAll.intersection(oldAll).count)
            let rules = report["rules"] as? [String: [String: Any]] ?? [:]
            #expect(Set(rules.keys) == ["coffee", "rain", "garden", "river", "music"])
            for id in rules.keys {
                let before = old[id] ?? []
                let after = new[id] ?? []
                #expect(rules[id]?["added"] as? Int == after.subtracting(before).count, "\(id) added")
                #expect(rules[id]?["removed"] as? Int == before.subtracting(after).count, "\(id) removed")
                #expect(rules[id]?["unchanged"] as? Int == after.intersection(before).count, "\(id) unchanged")
            }
            // Samples name the record, the field and the matched text.
            let samples = rules["music"]?["samples"] as? [String: [[String: Any]]]
            let added = samples?["added"] ?? []
            #expect(added.count == min(2, new["music"]?.count ?? 0))
            #expect(added.allSatisfy { ($0["snippet"] as? String)?.lowercased() == "music" && $0["field"] != nil })
        }

        let (status, output) = try await Self.run(
            ["rules", "diff", capture, "--from", "old", "--to", "new", "--samples", "2", "--json", "--quiet"],
            in: folder, log: "diff.log")
        #expect(status == 0, "\(output.suffix(2000))")
        check(try Self.json(output))

        // The new rules against the database the old ones filled: the same answer.
        try "did: did:plc:diffreplay\nstore:\n  path: old.sqlite\n".write(
            toFile: folder + "/labeler.yaml", atomically: true, encoding: .utf8)
        let (dbStatus, dbOutput) = try await Self.run(
            [
                "rules", "diff", capture, "--from-db", "--to", "new", "--config", "labeler.yaml", "--samples", "2",
                "--json", "--quiet",
            ],
            in: folder, log: "diff-db.log")
        #expect(dbStatus == 0, "\(dbOutput.suffix(2000))")
        check(try Self.json(dbOutput))
    }
}
