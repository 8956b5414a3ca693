import Firehose
import Foundation
import GRDB
import SyntheticFirehose
import Testing

/// The reference rules (`Tests/Fixtures/ground-truth/rules`) over a capture with planted
/// moderation content label exactly the planted records: one label per distinct
/// `(uri, cid, category)`, none missing, none extra. Runs `labeler replay` itself.
@Suite struct GroundTruthTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let rules = packageRoot.appendingPathComponent("Tests/Fixtures/ground-truth/rules").path
    /// The corpus generator, present only next to a development checkout: extra coverage.
    static let generator = packageRoot.appendingPathComponent("../shared/corpus/gen_firehose.py").standardized.path
    static var generatorAvailable: Bool {
        FileManager.default.fileExists(atPath: generator)
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")
    }

    /// Replays `capture` with the reference rules into a new database; returns its labels as
    /// `uri cid val` lines.
    static func labelsFromReplay(of capture: String, folder: String) async throws -> Set<String> {
        let database = folder + "/labels.sqlite"
        let replay = try ServiceProcess(
            ["replay", capture, "--rules", rules, "--db", database, "--key", folder + "/signing.key", "--json"],
            in: folder, environment: [:], log: folder + "/replay.log")
        let status = await replay.wait(timeout: .seconds(240))
        #expect(status == 0, "\(replay.logText.suffix(2000))")
        let queue = try DatabaseQueue(path: database)
        defer { try? queue.close() }
        let rows = try queue.read { db in try Row.fetchAll(db, sql: "SELECT uri, cid, val, neg FROM label") }
        #expect(rows.allSatisfy { ($0["neg"] as Int64) == 0 })
        return Set(
            rows.map { row -> String in
                let fields: [String] = [row["uri"], row["cid"], row["val"]]
                return fields.joined(separator: " ")
            })
    }

    /// The label value of a ground-truth category (`spam_link` → `spam-link`).
    static func value(of category: String) -> String { category.replacingOccurrences(of: "_", with: "-") }

    static func folder(_ name: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("labeler-\(name)-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test(.timeLimit(.minutes(5))) func plantedContentIsLabeledExactly() async throws {
        var generator = SyntheticFirehose(seed: 2718, accounts: 300, plantRate: 80)
        let messages = generator.messages(5_000)
        let folder = try Self.folder("truth")
        let capture = folder + "/planted.bin"
        let writer = try CaptureWriter(path: capture)
        for message in messages { try writer.write(message) }
        try writer.flush()

        let expected = Set(
            generator.planted.flatMap { record in
                record.categories.map { "\(record.uri) \(record.cid) \(Self.value(of: $0.rawValue))" }
            })
        // Every category, in posts and in profiles.
        #expect(Set(generator.planted.flatMap(\.categories)) == Set(PlantedCategory.allCases))
        #expect(generator.planted.contains { $0.uri.contains("app.bsky.actor.profile") })
        #expect(expected.count > 50)

        let actual = try await Self.labelsFromReplay(of: capture, folder: folder)
        #expect(
            actual.subtracting(expected).isEmpty,
            "labels nothing planted: \(actual.subtracting(expected).sorted().prefix(5))")
        #expect(
            expected.subtracting(actual).isEmpty,
            "planted but not labeled: \(expected.subtracting(actual).sorted().prefix(5))")
    }

    @Test(
        .timeLimit(.minutes(5)),
        .enabled(if: generatorAvailable, "needs ../shared/corpus/gen_firehose.py and python3 (a development checkout)"))
    func theCorpusGeneratorsGroundTruthIsLabeledExactly() async throws {
        let folder = try Self.folder("corpus-truth")
        let capture = folder + "/firehose.bin"
        let truth = folder + "/truth.jsonl"
        let generate = Process()
        generate.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        generate.arguments = [Self.generator, "--events", "6000", "--seed", "11", "--out", capture, "--truth", truth]
        generate.standardOutput = FileHandle.nullDevice
        try generate.run()
        generate.waitUntilExit()
        try #require(generate.terminationStatus == 0)

        var expected = Set<String>()
        for line in try String(contentsOfFile: truth, encoding: .utf8).split(separator: "\n") {
            let hit = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
            let uri = try #require(hit["uri"] as? String)
            let cid = try #require(hit["cid"] as? String)
            let category = try #require(hit["category"] as? String)
            expected.insert("\(uri) \(cid) \(Self.value(of: category))")
        }
        #expect(expected.count > 20)
        let actual = try await Self.labelsFromReplay(of: capture, folder: folder)
        #expect(
            actual.subtracting(expected).isEmpty,
            "labels nothing planted: \(actual.subtracting(expected).sorted().prefix(5))")
        #expect(
            expected.subtracting(actual).isEmpty,
            "planted but not labeled: \(expected.subtracting(actual).sorted().prefix(5))")
    }
}
