import Foundation
import Testing

@testable import Rules

/// The rules' label values against `labels.yaml`: undefined values, global values, the folder and
/// its reloads.
@Suite struct LabelValueCheckTests {
    static let valid = LabelDefinitionTests.valid

    /// The problems (errors) of loading `rule` as a rule file beside `labels` as `labels.yaml`.
    static func ruleProblems(_ rule: String, labels: String?) -> [String] {
        do {
            _ = try load(rule, labels: labels)
            return []
        } catch {
            return error.diagnostics.map(\.description)
        }
    }

    static func load(_ rule: String, labels: String?) throws(RuleLoadError) -> RuleSet {
        try RuleSet.load(
            RuleSources(
                ruleFiles: [RuleSources.File(path: "rules/r.yaml", text: rule)],
                labelDefinitions: labels.map { RuleSources.File(path: "rules/labels.yaml", text: $0) }))
    }

    static func rule(_ label: String, id: String = "r") -> String {
        "rules:\n  - id: \(id)\n    on: [post]\n    match: {keywords: [x]}\n    label: '\(label)'\n"
    }

    // MARK: Rules against the definitions

    @Test func undefinedRuleValueIsRejectedAtItsLabel() {
        let labels =
            "labels:\n  - {value: spam, severity: alert, blurs: none, locales: [{lang: en, name: S, description: S}]}\n"
        #expect(Self.ruleProblems(Self.rule("spam"), labels: labels) == [])
        #expect(
            Self.ruleProblems(Self.rule("spams"), labels: labels) == [
                "rules/r.yaml:5:12: label value 'spams' is not defined in labels.yaml (rules/labels.yaml); every value a rule emits needs a definition there; did you mean 'spam'?"
            ])
        // A rule without a label emits nothing and needs no definition.
        #expect(
            Self.ruleProblems("rules:\n  - {id: block, on: [post], match: {keywords: [x]}}\n", labels: labels) == [])
        // An empty labels.yaml defines nothing, so every value is undefined.
        #expect(
            Self.ruleProblems(Self.rule("spam"), labels: "labels: []\n") == [
                "rules/r.yaml:5:12: label value 'spam' is not defined in labels.yaml (rules/labels.yaml); every value a rule emits needs a definition there"
            ])
    }

    @Test func problemsOfBothFilesAreReportedTogether() {
        let labels =
            "labels:\n  - {value: spam, severity: loud, blurs: none, locales: [{lang: en, name: S, description: S}]}\n"
        // 'spam' is written, so its rule is not reported as undefined; the definition is.
        #expect(
            Self.ruleProblems(
                Self.rule("spam") + "  - {id: s, on: [post], match: {keywords: [y]}, label: ham}\n", labels: labels)
                == [
                    "rules/labels.yaml:2:29: invalid severity 'loud': use inform, alert or none",
                    "rules/r.yaml:6:56: label value 'ham' is not defined in labels.yaml (rules/labels.yaml); every value a rule emits needs a definition there",
                ])
    }

    @Test func definedSetCarriesItsDefinitions() throws {
        let set = try Self.load(Self.rule("spam"), labels: Self.valid)
        #expect(set.labelDefinitions?.values == ["spam", "gore-ish"])
        #expect(set.files == ["rules/r.yaml", "rules/labels.yaml"])
        #expect(set.warnings.isEmpty)
        #expect(set.emittedValues == ["spam"])
        #expect(set.summary.hasSuffix(", 2 files, 2 label definitions"))
    }

    @Test func globalValuesGetAWarningAndNeedNoDefinition() throws {
        let rules = """
            rules:
              - {id: hide, on: [post], match: {keywords: [x]}, label: '!hide'}
              - {id: warn, on: [post], match: {keywords: [y]}, label: '!warn'}
              - {id: porn, on: [post], match: {keywords: [z]}, label: porn}
              - {id: nude, on: [post], match: {keywords: [w]}, label: nudity}
            """
        let set = try Self.load(rules, labels: Self.valid)
        #expect(
            set.warnings.map(\.description) == [
                "rules/r.yaml:2:59: warning: label '!hide' is a global value: the app puts the content behind a warning that cannot be clicked through and filters it from listings, for everyone subscribed to this labeler; its meaning is fixed (values starting with '!' cannot be redefined)",
                "rules/r.yaml:3:59: warning: label '!warn' is a global value: the app puts the content behind a warning that can be clicked through, for everyone subscribed to this labeler; its meaning is fixed (values starting with '!' cannot be redefined)",
                "rules/r.yaml:4:59: warning: label 'porn' is a global value: the app treats it as adult content: a media warning only users with adult content enabled can lift, for everyone subscribed to this labeler; Bluesky's definition applies unless labels.yaml defines 'porn' for this labeler",
                "rules/r.yaml:5:59: warning: label 'nudity' is a global value: the app can put the media behind a warning (not adult-only), but by default ignores it, for everyone subscribed to this labeler; Bluesky's definition applies unless labels.yaml defines 'nudity' for this labeler",
            ])
        #expect(set.rules.count == 4)
        // The same warnings without labels.yaml: they are about the value, not the file.
        #expect(try Self.load(rules, labels: nil).warnings == set.warnings)
    }

    @Test func aRedefinedGlobalValueIsTheLabelersOwn() throws {
        let labels = """
            labels:
              - value: porn
                severity: alert
                blurs: media
                adult_only: true
                locales: [{lang: en, name: Adult, description: Adult content by this labeler's rules}]
            """
        let set = try Self.load(Self.rule("porn"), labels: labels)
        #expect(set.warnings.isEmpty)
    }

    @Test func withoutLabelsYAMLValuesAreNotChecked() throws {
        let set = try Self.load(Self.rule("anything-goes"), labels: nil)
        #expect(set.labelDefinitions == nil)
        #expect(set.warnings.isEmpty)
        #expect(set.files == ["rules/r.yaml"])
        #expect(!set.summary.contains("label definitions"))
        // Syntax is still checked as before.
        #expect(
            Self.ruleProblems(Self.rule("Bad Value"), labels: nil) == [
                "rules/r.yaml:5:12: invalid label value 'Bad Value': use lowercase letters a-z and '-' only"
            ])
    }

    // MARK: The rules folder

    @Test func folderReadsLabelsYAMLBesideTheRules() throws {
        let root = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try TestSupport.write(Self.rule("spam"), to: root + "/r.yaml")
        // Without labels.yaml, as before.
        #expect(try RuleSet.load(directory: root).labelDefinitions == nil)
        #expect(try LabelDefinitions.load(directory: root) == nil)

        try TestSupport.write(Self.valid, to: root + "/labels.yaml")
        let set = try RuleSet.load(directory: root)
        #expect(set.labelDefinitions?.path == root + "/labels.yaml")
        #expect(set.files == [root + "/r.yaml", root + "/labels.yaml"])  // not read as a rule file
        #expect(try LabelDefinitions.load(directory: root + "/")?.values == ["spam", "gore-ish"])

        try TestSupport.write(Self.rule("ham"), to: root + "/r.yaml")
        let error = #expect(throws: RuleLoadError.self) { try RuleSet.load(directory: root) }
        #expect(
            error?.diagnostics.map(\.description) == [
                "\(root)/r.yaml:5:12: label value 'ham' is not defined in labels.yaml (\(root)/labels.yaml); every value a rule emits needs a definition there"
            ])

        // A labels.yaml in a subfolder is a rule file like any other.
        try TestSupport.write(Self.rule("spam"), to: root + "/r.yaml")
        try TestSupport.write(Self.valid, to: root + "/more/labels.yaml")
        let nested = #expect(throws: RuleLoadError.self) { try RuleSet.load(directory: root) }
        #expect(
            nested?.diagnostics.map(\.description) == [
                "\(root)/more/labels.yaml:1:1: a rule file needs a 'rules' list at the top level",
                "\(root)/more/labels.yaml:1:1: unknown key 'labels' in a rule file",
            ])
    }

    @Test func brokenLabelsYAMLStopsTheLoad() throws {
        let root = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try TestSupport.write(Self.rule("spam"), to: root + "/r.yaml")
        try TestSupport.write("labels:\n  - value: spam\n", to: root + "/labels.yaml")
        let error = #expect(throws: RuleLoadError.self) { try RuleSet.load(directory: root) }
        #expect(error?.diagnostics.count == 3)
        #expect(error?.diagnostics.allSatisfy { $0.location.file == root + "/labels.yaml" } == true)
        #expect(throws: RuleLoadError.self) { try LabelDefinitions.load(directory: root) }
    }

    static func changed(_ detector: inout RuleFileChangeDetector) -> Bool { detector.poll() }

    @Test func reloadFollowsLabelsYAML() throws {
        let root = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try TestSupport.write(Self.rule("spam"), to: root + "/r.yaml")
        let holder = RuleSetHolder(try RuleSet.load(directory: root))
        var detector = RuleFileChangeDetector(directory: root, listFiles: holder.current.files)
        #expect(!Self.changed(&detector))

        // Creating labels.yaml is a change; one that leaves 'spam' undefined is refused.
        try TestSupport.write("labels: []\n", to: root + "/labels.yaml")
        #expect(Self.changed(&detector))
        guard case .failure = holder.reload(from: root) else {
            Issue.record("a rule with an undefined value loaded")
            return
        }
        #expect(holder.generation == 1)

        // Defining it is a change too, and the reload takes it.
        try TestSupport.write(Self.valid, to: root + "/labels.yaml")
        #expect(Self.changed(&detector))
        guard case .success(let set) = holder.reload(from: root) else {
            Issue.record("the defined value did not load")
            return
        }
        detector.watch(listFiles: set.files)
        #expect(!Self.changed(&detector))
        #expect(holder.current.labelDefinitions?.values == ["spam", "gore-ish"])

        // Deleting it is seen, once.
        try FileManager.default.removeItem(atPath: root + "/labels.yaml")
        #expect(Self.changed(&detector))
        guard case .success(let without) = holder.reload(from: root) else {
            Issue.record("the rules without labels.yaml did not load")
            return
        }
        detector.watch(listFiles: without.files)
        #expect(!Self.changed(&detector))
        #expect(holder.current.labelDefinitions == nil)
    }

    /// Every global value the warnings explain is one the lexicon knows.
    @Test(.enabled(if: SharedLexicons.labelDefs != nil, "shared/lexicons is not beside the project"))
    func globalValuesAreTheLexiconsKnownValues() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: try #require(SharedLexicons.labelDefs)))
        let lexicon = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let defs = try #require(lexicon["defs"] as? [String: [String: Any]])
        let known = try #require(defs["labelValue"]?["knownValues"] as? [String])
        #expect(Set(LabelValue.globalValueMeanings.keys).isSubset(of: Set(known)))
    }
}
