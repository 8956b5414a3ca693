import Foundation
import Testing

@testable import Rules

/// `labels.yaml`: parsing, every problem at its place, and the lexicon form.
@Suite struct LabelDefinitionTests {
    static let valid = """
        labels:
          - value: spam
            severity: alert
            blurs: content
            default: hide
            adult_only: false
            locales:
              - {lang: en, name: Spam, description: Unsolicited commercial content}
              - lang: pt-BR
                name: Spam
                description: Conteúdo comercial não solicitado
          - value: gore-ish
            severity: inform
            blurs: media
            adult_only: true
            locales:
              - {lang: en, name: Graphic, description: Blood and wounds}
        """

    /// The problems of `text` as `labels.yaml`, as `file:line:column: message` lines.
    static func problems(_ text: String) -> [String] {
        do {
            _ = try LabelDefinitions.parse(text, path: "rules/labels.yaml")
            return []
        } catch {
            return error.diagnostics.map(\.description)
        }
    }

    @Test func validFileWithDefaults() throws {
        let parsed = try LabelDefinitions.parse(Self.valid, path: "rules/labels.yaml")
        #expect(parsed.path == "rules/labels.yaml")
        #expect(parsed.values == ["spam", "gore-ish"])
        let spam = try #require(parsed.definition(of: "spam"))
        #expect(spam.severity == .alert)
        #expect(spam.blurs == .content)
        #expect(spam.defaultSetting == .hide)
        #expect(!spam.adultOnly)
        #expect(
            spam.locales == [
                LabelLocale(lang: "en", name: "Spam", description: "Unsolicited commercial content"),
                LabelLocale(lang: "pt-BR", name: "Spam", description: "Conteúdo comercial não solicitado"),
            ])
        #expect(spam.location == SourceLocation(file: "rules/labels.yaml", line: 2, column: 12))
        let gore = try #require(parsed.definition(of: "gore-ish"))
        #expect(gore.defaultSetting == .warn)  // the lexicon's default
        #expect(gore.adultOnly)
        #expect(gore.blurs == .media)
        #expect(parsed.definition(of: "ham") == nil)
    }

    @Test func emptyListAndEmptyFileDefineNothing() throws {
        #expect(try LabelDefinitions.parse("labels:\n", path: "l.yaml").definitions.isEmpty)
        #expect(try LabelDefinitions.parse("labels: []\n", path: "l.yaml").definitions.isEmpty)
        #expect(try LabelDefinitions.parse("# none yet\n", path: "l.yaml").definitions.isEmpty)
    }

    // MARK: Problems

    @Test func everyProblemAtItsPlace() {
        let problems = Self.problems(
            """
            labels:
              - value: Spam Bot
                severity: high
                blurs: none
                locales: [{lang: en, name: X, description: Y}]
              - value: ok
                severity: alert
                blurs: everything
                default: show
                adult_only: maybe
                colour: red
                locales: []
              - severity: inform
                blurs: [none]
                locales: en
              - value: '!hide'
                severity: none
                blurs: none
                locales: [{lang: en, name: Hide, description: Hidden}]
              - value: bare
            """)
        #expect(
            problems == [
                "rules/labels.yaml:2:12: invalid label value 'Spam Bot': use lowercase letters a-z and '-' only",
                "rules/labels.yaml:3:15: invalid severity 'high': use inform, alert or none",
                "rules/labels.yaml:8:12: invalid blurs 'everything': use content, media or none",
                "rules/labels.yaml:9:14: invalid default 'show': use ignore, warn or hide",
                "rules/labels.yaml:10:17: adult_only must be true or false",
                "rules/labels.yaml:11:5: unknown key 'colour' in a label definition",
                "rules/labels.yaml:12:14: 'locales' needs at least one entry {lang, name, description}",
                "rules/labels.yaml:13:5: a label definition needs a 'value'",
                "rules/labels.yaml:14:12: blurs must be a single value, not a list",
                "rules/labels.yaml:15:14: 'locales' must be a list of {lang, name, description}, not 'en'",
                "rules/labels.yaml:16:12: label value '!hide' starts with '!': such values are the protocol's global values, whose meaning is fixed and cannot be defined here",
                "rules/labels.yaml:20:5: label 'bare' needs 'blurs' (content, media or none)",
                "rules/labels.yaml:20:5: label 'bare' needs 'locales': a list of {lang, name, description}",
                "rules/labels.yaml:20:5: label 'bare' needs 'severity' (inform, alert or none)",
            ])
    }

    @Test func misspeltChoicesGetAHint() {
        let problems = Self.problems(
            "labels:\n  - {value: a, severity: alrt, blurs: meda, default: hid, locales: [{lang: en, name: A, description: A}]}\n"
        )
        #expect(
            problems == [
                "rules/labels.yaml:2:26: invalid severity 'alrt': use inform, alert or none; did you mean 'alert'?",
                "rules/labels.yaml:2:39: invalid blurs 'meda': use content, media or none; did you mean 'media'?",
                "rules/labels.yaml:2:54: invalid default 'hid': use ignore, warn or hide; did you mean 'hide'?",
            ])
    }

    @Test func duplicateValueNamesBothPlaces() {
        let problems = Self.problems(
            """
            labels:
              - value: spam
                severity: alert
                blurs: none
                locales: [{lang: en, name: Spam, description: Spam}]
              - value: spam
                severity: inform
                blurs: none
                locales: [{lang: en, name: Spam again, description: Spam}]
            """)
        #expect(
            problems == [
                "rules/labels.yaml:6:12: duplicate label value 'spam' (first defined at rules/labels.yaml:2:12)"
            ])
    }

    @Test func localeProblems() {
        let problems = Self.problems(
            """
            labels:
              - value: spam
                severity: alert
                blurs: none
                locales:
                  - {lang: english, name: Spam, description: Spam}
                  - {lang: en, name: '', description: Spam}
                  - {lang: en, name: Spam, description: Spam, extra: 1}
                  - {lang: en, name: Spam}
                  - {name: Spam, description: Spam}
                  - {lang: EN, name: Spam, description: Spam}
                  - [en, Spam, Spam]
            """)
        #expect(
            problems == [
                "rules/labels.yaml:6:16: invalid language tag 'english': primary language subtag must be 2 or 3 lowercase letters (use a tag such as en, pt-BR or zh-Hant)",
                "rules/labels.yaml:7:26: name is empty",
                "rules/labels.yaml:8:51: unknown key 'extra' in a locale",
                "rules/labels.yaml:9:9: a locale needs 'description'",
                "rules/labels.yaml:10:9: a locale needs 'lang' (a language tag such as en or pt-BR)",
                "rules/labels.yaml:11:16: invalid language tag 'EN': primary language subtag must be 2 or 3 lowercase letters (use a tag such as en, pt-BR or zh-Hant)",
                "rules/labels.yaml:12:9: a locale must be a mapping (key: value lines), not a list",
            ])
    }

    @Test func duplicateLocale() {
        let problems = Self.problems(
            """
            labels:
              - value: spam
                severity: alert
                blurs: none
                locales:
                  - {lang: en, name: Spam, description: Spam}
                  - {lang: en, name: Junk, description: Junk}
            """)
        #expect(problems == ["rules/labels.yaml:7:9: duplicate locale 'en' (first at rules/labels.yaml:6:9)"])
    }

    @Test func lexiconLengthLimits() {
        let longValue = String(repeating: "a", count: 101)
        let longName = String(repeating: "n", count: 65)
        // 30 characters, each a family emoji of 25 UTF-8 bytes: within 64 characters, over 640 bytes.
        let heavyName = String(repeating: "👨‍👩‍👧‍👦", count: 30)
        let longDescription = String(repeating: "d", count: 10_001)
        let problems = Self.problems(
            """
            labels:
              - {value: \(longValue), severity: none, blurs: none, locales: [{lang: en, name: A, description: B}]}
              - value: long-name
                severity: none
                blurs: none
                locales:
                  - {lang: en, name: \(longName), description: B}
                  - {lang: pt, name: \(heavyName), description: B}
                  - {lang: de, name: A, description: \(longDescription)}
            """)
        #expect(
            problems == [
                "rules/labels.yaml:2:13: label value is 101 characters long; the limit is 100",
                "rules/labels.yaml:7:26: name is 65 characters long; the limit is 64",
                "rules/labels.yaml:8:26: name is 750 bytes long in UTF-8; the limit is 640",
                "rules/labels.yaml:9:42: description is 10001 characters long; the limit is 10000",
            ])
        let fits = Self.problems(
            """
            labels:
              - value: \(String(repeating: "a", count: 100))
                severity: none
                blurs: none
                locales: [{lang: en, name: \(String(repeating: "n", count: 64)), description: B}]
            """)
        #expect(fits == [])
    }

    @Test func topLevelShape() {
        #expect(
            Self.problems("label:\n  - value: x\n") == [
                "rules/labels.yaml:1:1: labels.yaml needs a 'labels' list at the top level",
                "rules/labels.yaml:1:1: unknown key 'label' in labels.yaml; did you mean 'labels'?",
            ])
        #expect(
            Self.problems("labels: spam\n") == [
                "rules/labels.yaml:1:9: 'labels' must be a list of label definitions (lines starting with '- ')"
            ])
        #expect(
            Self.problems("- spam\n") == [
                "rules/labels.yaml:1:1: labels.yaml must be a mapping (key: value lines), not a list"
            ])
        #expect(
            Self.problems("labels:\n  - value: [x\n") == [
                "rules/labels.yaml:3:1: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at line 2, column 12)"
            ])
    }

    // MARK: The lexicon form

    @Test func encodesAsTheLexiconsLabelValueDefinition() throws {
        let parsed = try LabelDefinitions.parse(Self.valid, path: "rules/labels.yaml")
        let data = try JSONEncoder().encode(parsed.labelValueDefinitions)
        let objects = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        #expect(objects.count == 2)
        let spam = objects[0]
        #expect(Set(spam.keys) == ["identifier", "severity", "blurs", "defaultSetting", "adultOnly", "locales"])
        #expect(spam["identifier"] as? String == "spam")
        #expect(spam["severity"] as? String == "alert")
        #expect(spam["blurs"] as? String == "content")
        #expect(spam["defaultSetting"] as? String == "hide")
        #expect(spam["adultOnly"] as? Bool == false)
        let locales = try #require(spam["locales"] as? [[String: String]])
        #expect(
            locales == [
                ["lang": "en", "name": "Spam", "description": "Unsolicited commercial content"],
                ["lang": "pt-BR", "name": "Spam", "description": "Conteúdo comercial não solicitado"],
            ])
        #expect(objects[1]["defaultSetting"] as? String == "warn")
        #expect(objects[1]["adultOnly"] as? Bool == true)

        // It reads back as what it was.
        #expect(try JSONDecoder().decode([LabelValueDefinition].self, from: data) == parsed.labelValueDefinitions)
    }

    @Test func policiesListTheDefinedValuesThenTheOthers() throws {
        let parsed = try LabelDefinitions.parse(Self.valid, path: "rules/labels.yaml")
        let policies = parsed.policies(alsoPublishing: ["!hide", "spam", "porn"])
        #expect(policies.labelValues == ["spam", "gore-ish", "!hide", "porn"])
        #expect(policies.labelValueDefinitions == parsed.labelValueDefinitions)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: try encoder.encode(policies), as: UTF8.self)
        #expect(
            json.hasPrefix(
                #"{"labelValueDefinitions":[{"adultOnly":false,"blurs":"content","defaultSetting":"hide","identifier":"spam","locales":[{"description":"Unsolicited commercial content","lang":"en","name":"Spam"}"#
            ))
        #expect(json.hasSuffix(#""labelValues":["spam","gore-ish","!hide","porn"]}"#))
    }

    /// The field names, known values and limits above are the lexicon's own, when the lexicons
    /// are beside the project.
    @Test(.enabled(if: SharedLexicons.labelDefs != nil, "shared/lexicons is not beside the project"))
    func fieldsAndLimitsMatchTheLexicon() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: try #require(SharedLexicons.labelDefs)))
        let lexicon = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let defs = try #require(lexicon["defs"] as? [String: [String: Any]])
        let definition = try #require(defs["labelValueDefinition"])
        let properties = try #require(definition["properties"] as? [String: [String: Any]])
        #expect(Set(properties.keys) == ["identifier", "severity", "blurs", "defaultSetting", "adultOnly", "locales"])
        #expect(
            Set(try #require(definition["required"] as? [String])) == ["identifier", "severity", "blurs", "locales"])
        #expect(properties["identifier"]?["maxLength"] as? Int == LabelDefinition.maxValueLength)
        #expect(
            properties["severity"]?["knownValues"] as? [String] == LabelDefinition.Severity.allCases.map(\.rawValue))
        #expect(properties["blurs"]?["knownValues"] as? [String] == LabelDefinition.Blurs.allCases.map(\.rawValue))
        #expect(
            properties["defaultSetting"]?["knownValues"] as? [String]
                == LabelDefinition.DefaultSetting.allCases.map(\.rawValue))
        #expect(properties["defaultSetting"]?["default"] as? String == LabelDefinition.DefaultSetting.warn.rawValue)

        let strings = try #require(defs["labelValueDefinitionStrings"]?["properties"] as? [String: [String: Any]])
        #expect(Set(strings.keys) == ["lang", "name", "description"])
        #expect(strings["name"]?["maxGraphemes"] as? Int == LabelLocale.maxNameCharacters)
        #expect(strings["name"]?["maxLength"] as? Int == LabelLocale.maxNameBytes)
        #expect(strings["description"]?["maxGraphemes"] as? Int == LabelLocale.maxDescriptionCharacters)
        #expect(strings["description"]?["maxLength"] as? Int == LabelLocale.maxDescriptionBytes)
    }

    // MARK: The rules folder

    @Test func loadsTheFoldersLabelsYAMLIfAny() throws {
        let root = try TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(try LabelDefinitions.load(directory: root) == nil)
        try TestSupport.write(Self.valid, to: root + "/labels.yaml")
        let loaded = try #require(try LabelDefinitions.load(directory: root + "/"))
        #expect(loaded.path == root + "/labels.yaml")
        #expect(loaded.values == ["spam", "gore-ish"])
        // It is not a rule file.
        #expect(try RuleSources.directory(root).ruleFiles.isEmpty)
        #expect(try RuleSources.directory(root).labelDefinitions?.path == root + "/labels.yaml")
        try TestSupport.write("labels: [\n", to: root + "/labels.yaml")
        #expect(throws: RuleLoadError.self) { try LabelDefinitions.load(directory: root) }
    }
}

/// `../shared/lexicons` next to the package, if it is there.
enum SharedLexicons {
    static let labelDefs: String? = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let path = root.deletingLastPathComponent().appendingPathComponent(
            "shared/lexicons/com/atproto/label/defs.json"
        )
        .path
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }()
}
