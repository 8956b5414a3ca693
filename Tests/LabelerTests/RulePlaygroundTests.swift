import Foundation
import LabelServer
import Labeler
import Rules
import TestSupport
import Testing

/// The dashboard's playground: the lines `rules eval` prints, for a text or a record.
@Suite struct RulePlaygroundTests {
    static let rules = """
        rules:
          - id: coffee
            on: [post, profile]
            match: {keywords: [coffee]}
            label: coffee
          - id: tea-log
            on: [post]
            match: {keywords: [tea]}
            label: tea
            mode: log
        """

    func loadRules() throws -> RuleSet {
        let dir = temporaryPath("rules")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Self.rules.write(toFile: dir + "/r.yaml", atomically: true, encoding: .utf8)
        return try RuleSet.load(directory: dir)
    }

    func lines(_ outcome: PlaygroundOutcome) throws -> [String] {
        guard case .lines(let lines) = outcome else {
            Issue.record("refused: \(outcome)")
            return []
        }
        return lines
    }

    @Test func textFiresWithItsEvidenceAndDryRunsSayWould() throws {
        let set = try loadRules()
        let out = try lines(
            RulePlayground.evaluate(
                .init(kind: .text, content: "coffee and tea", collection: "app.bsky.feed.post"), with: set))
        #expect(out.contains { $0.hasPrefix("fired  coffee  label coffee on at://") })
        #expect(out.contains { $0.contains("\"coffee\"") })
        #expect(out.contains { $0.hasPrefix("fired  tea-log  would label tea") })
        #expect(
            try lines(RulePlayground.evaluate(.init(kind: .text, content: "water", collection: "x.y.z"), with: set))
                == ["no rule fired"])
    }

    @Test func recordsAreReadAsJSONOfTheirCollection() throws {
        let set = try loadRules()
        let profile = #"{"$type":"app.bsky.actor.profile","description":"coffee lover"}"#
        let out = try lines(
            RulePlayground.evaluate(
                .init(kind: .record, content: profile, collection: "app.bsky.actor.profile"), with: set))
        #expect(out.first?.hasPrefix("fired  coffee") == true)
        #expect(
            RulePlayground.evaluate(
                .init(kind: .record, content: "{not json", collection: "app.bsky.feed.post"), with: set
            )
            .isRefused)
        #expect(
            RulePlayground.evaluate(.init(kind: .record, content: profile, collection: "not an nsid"), with: set)
                .isRefused)
    }
}

extension PlaygroundOutcome {
    var isRefused: Bool { if case .refused = self { true } else { false } }
}
