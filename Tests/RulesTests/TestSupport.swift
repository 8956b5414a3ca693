import ATProto
import Foundation
import Rules

/// Builds rule sets and events for tests.
enum TestSupport {
    static let did = "did:plc:testaccount0000000000000"
    /// The account of `did`, as labels on it name it.
    static let account = LabelSubject.account(try! DID(did))
    static let cid = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"
    static let previousCID = "bafyreihf5qcpkzaaxxbsgqutbc43wbe5g6xxoqlzv7lhjbqrd3eiadfqvy"
    /// 2025-01-01T00:00:00Z.
    static let time: Int64 = 1_735_689_600_000_000

    /// A rule set from one in-memory file (and list files), failing the test on load errors.
    static func rules(_ yaml: String, lists: [String: String] = [:]) throws -> RuleSet {
        try RuleSet.load(RuleSources(ruleFiles: [RuleSources.File(path: "rules/test.yaml", text: yaml)], lists: lists))
    }

    /// The diagnostics of loading `files` (path → text), as `file:line:column: message` lines.
    static func problems(_ files: [String: String], lists: [String: String] = [:]) -> [String] {
        let sources = RuleSources(
            ruleFiles: files.sorted { $0.key < $1.key }.map { RuleSources.File(path: $0.key, text: $0.value) },
            lists: lists)
        do {
            _ = try RuleSet.load(sources)
            return []
        } catch {
            return error.diagnostics.map(\.description)
        }
    }

    static func post(
        _ text: String, langs: [String] = [], extra: [(String, CBORValue)] = [], action: RecordContext.Action = .create,
        did: String = did
    ) -> RecordContext {
        var pairs: [(String, CBORValue)] = [
            ("$type", "app.bsky.feed.post"), ("text", .text(CBORText(text))), ("createdAt", "2025-01-01T00:00:00.000Z"),
        ]
        if !langs.isEmpty { pairs.append(("langs", .array(langs.map { .text(CBORText($0)) }))) }
        pairs += extra
        return record(Collections.post, .map(CBORMap(pairs)), action: action, did: did)
    }

    static func record(
        _ collection: String, _ value: CBORValue?, action: RecordContext.Action = .create, did: String = did,
        rkey: String = "3lrecord00000"
    ) -> RecordContext {
        RecordContext(
            did: did, collection: collection, rkey: rkey, action: action, cid: action == .delete ? nil : cid,
            previousCID: action == .create ? nil : previousCID, record: action == .delete ? nil : value, time: time)
    }

    static func json(
        _ collection: String, _ json: String, action: RecordContext.Action = .create
    ) throws -> RecordContext {
        record(collection, try DataModelJSON.parseObject(json), action: action)
    }

    /// Label values applied by `set` on `context`, sorted.
    static func labels(_ set: RuleSet, _ context: RecordContext, counts: [String: Int] = [:]) -> [String] {
        set.evaluate(context, counts: FixedThresholdCounts(counts), using: RuleScratch()).labels.map(\.value).sorted()
    }

    /// Ids of the rules that fired, in evaluation order.
    static func fired(_ set: RuleSet, _ context: RecordContext) -> [String] {
        set.evaluate(context, using: RuleScratch()).fired.map(\.ruleID)
    }

    /// A fresh empty folder under the system's temporary folder.
    static func temporaryFolder() throws -> String {
        let path = NSTemporaryDirectory() + "rules-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func write(_ text: String, to path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// The repository's `rules` folder, found from this file's path.
    static let shippedRules = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("rules").path
}
