import ATProto
import Yams

/// Turns `labels.yaml` into ``LabelDefinition``s, reporting every problem at its place: unknown
/// keys, wrong types, missing fields, value syntax, duplicates, language tags and the lexicon's
/// length limits, so that a definition the network would reject is caught before it is published.
struct LabelDefinitionParser {
    static let definitionKeys = ["value", "severity", "blurs", "default", "adult_only", "locales"]
    static let localeKeys = ["lang", "name", "description"]

    var reader: YAMLReader
    /// Every value written, valid or not, with where: rules are checked against these, so a
    /// definition with a problem elsewhere does not also make its rules "undefined".
    private(set) var declaredValues: [String: SourceLocation] = [:]

    init(source: SourceText) {
        reader = YAMLReader(source: source)
    }

    var diagnostics: [RuleDiagnostic] { reader.diagnostics }

    /// The complete definitions, in file order; problems are in ``diagnostics``.
    mutating func parse() -> [LabelDefinition] {
        guard let root = reader.compose() else { return [] }
        guard let top = reader.entries(of: root, in: "labels.yaml", allowed: ["labels"]) else { return [] }
        guard let list = top["labels"] else {
            reader.error(root, "labels.yaml needs a 'labels' list at the top level")
            return []
        }
        if case .scalar(let scalar) = list, scalar.string.isEmpty { return [] }  // `labels:` with nothing yet
        guard let items = list.sequence else {
            reader.error(list, "'labels' must be a list of label definitions (lines starting with '- ')")
            return []
        }
        return items.compactMap { definition($0) }
    }

    // MARK: Definitions

    private mutating func definition(_ node: Node) -> LabelDefinition? {
        guard let entries = reader.entries(of: node, in: "a label definition", allowed: Self.definitionKeys) else {
            return nil
        }
        var complete = true

        var value = ""
        var location = reader.location(of: node)
        if let valueNode = entries["value"], let text = reader.string(valueNode, "value") {
            location = reader.location(of: valueNode)
            value = text
            if let problem = Self.valueProblem(text) {
                reader.error(valueNode, problem)
                complete = false
            }
            if let first = declaredValues[text] {
                reader.error(valueNode, "duplicate label value '\(text)' (first defined at \(first))")
                complete = false
            } else {
                declaredValues[text] = location
            }
        } else {
            if !entries.contains("value") { reader.error(node, "a label definition needs a 'value'") }
            complete = false
        }
        let named = value.isEmpty ? "this label definition" : "label '\(value)'"

        let severity = required(
            entries, "severity", of: LabelDefinition.Severity.self, named: named, node: node, complete: &complete)
        let blurs = required(
            entries, "blurs", of: LabelDefinition.Blurs.self, named: named, node: node, complete: &complete)

        var defaultSetting = LabelDefinition.DefaultSetting.warn
        if let settingNode = entries["default"] {
            if let setting = choice(settingNode, "default", of: LabelDefinition.DefaultSetting.self) {
                defaultSetting = setting
            } else {
                complete = false
            }
        }

        var adultOnly = false
        if let adultNode = entries["adult_only"] {
            if let flag = reader.bool(adultNode, "adult_only") { adultOnly = flag } else { complete = false }
        }

        var locales: [LabelLocale] = []
        if let localesNode = entries["locales"] {
            if let parsed = self.locales(localesNode) { locales = parsed } else { complete = false }
        } else {
            reader.error(node, "\(named) needs 'locales': a list of {lang, name, description}")
            complete = false
        }

        guard complete, let severity, let blurs else { return nil }
        return LabelDefinition(
            value: value, severity: severity, blurs: blurs, defaultSetting: defaultSetting, adultOnly: adultOnly,
            locales: locales, location: location)
    }

    /// Why `value` cannot be defined, or `nil`.
    static func valueProblem(_ value: String) -> String? {
        if value.hasPrefix("!") {
            return "label value '\(value)' starts with '!': such values are the protocol's global values, "
                + "whose meaning is fixed and cannot be defined here"
        }
        if value.isEmpty { return "label value is empty" }
        if value.unicodeScalars.contains(where: { !(("a"..."z").contains($0) || $0 == "-") }) {
            return "invalid label value '\(value)': use lowercase letters a-z and '-' only"
        }
        if value.utf8.count > LabelDefinition.maxValueLength {
            return "label value is \(value.utf8.count) characters long; the limit is \(LabelDefinition.maxValueLength)"
        }
        return nil
    }

    /// A required choice among an enum's cases; a missing one is reported on the definition.
    private mutating func required<Choice: RawRepresentable & CaseIterable>(
        _ entries: MappingEntries, _ key: String, of type: Choice.Type, named: String, node: Node,
        complete: inout Bool
    ) -> Choice? where Choice.RawValue == String {
        guard let valueNode = entries[key] else {
            reader.error(node, "\(named) needs '\(key)' (\(Self.choices(Choice.self)))")
            complete = false
            return nil
        }
        let value = choice(valueNode, key, of: Choice.self)
        if value == nil { complete = false }
        return value
    }

    private mutating func choice<Choice: RawRepresentable & CaseIterable>(
        _ node: Node, _ key: String, of type: Choice.Type
    ) -> Choice? where Choice.RawValue == String {
        guard let text = reader.string(node, key) else { return nil }
        if let value = Choice(rawValue: text) { return value }
        let names = Choice.allCases.map(\.rawValue)
        reader.error(
            node, "invalid \(key) '\(text)': use \(Self.choices(Choice.self))" + Suggestion.hint(for: text, in: names))
        return nil
    }

    /// `inform, alert or none`.
    private static func choices<Choice: RawRepresentable & CaseIterable>(_ type: Choice.Type) -> String
    where Choice.RawValue == String {
        let names = Choice.allCases.map(\.rawValue)
        return names.dropLast().joined(separator: ", ") + " or " + names[names.count - 1]
    }

    // MARK: Locales

    private mutating func locales(_ node: Node) -> [LabelLocale]? {
        guard let items = node.sequence else {
            reader.error(
                node, "'locales' must be a list of {lang, name, description}, not \(reader.kindName(of: node))")
            return nil
        }
        guard !items.isEmpty else {
            reader.error(node, "'locales' needs at least one entry {lang, name, description}")
            return nil
        }
        var locales: [LabelLocale] = []
        var complete = true
        var seen: [String: SourceLocation] = [:]
        for item in items {
            guard let locale = locale(item) else {
                complete = false
                continue
            }
            if let first = seen[locale.lang.lowercased()] {
                reader.error(item, "duplicate locale '\(locale.lang)' (first at \(first))")
                complete = false
            } else {
                seen[locale.lang.lowercased()] = reader.location(of: item)
            }
            locales.append(locale)
        }
        return complete ? locales : nil
    }

    private mutating func locale(_ node: Node) -> LabelLocale? {
        guard let entries = reader.entries(of: node, in: "a locale", allowed: Self.localeKeys) else { return nil }
        var lang: String?
        if let langNode = entries["lang"], let text = reader.string(langNode, "lang") {
            do {
                lang = try Language(text).rawValue
            } catch {
                reader.error(
                    langNode, "invalid language tag '\(text)': \(error.reason) (use a tag such as en, pt-BR or zh-Hant)"
                )
            }
        } else if !entries.contains("lang") {
            reader.error(node, "a locale needs 'lang' (a language tag such as en or pt-BR)")
        }
        let name = text(
            entries, "name", in: node, maxCharacters: LabelLocale.maxNameCharacters, maxBytes: LabelLocale.maxNameBytes)
        let description = text(
            entries, "description", in: node, maxCharacters: LabelLocale.maxDescriptionCharacters,
            maxBytes: LabelLocale.maxDescriptionBytes)
        guard let lang, let name, let description else { return nil }
        return LabelLocale(lang: lang, name: name, description: description)
    }

    /// A required, non-empty text within the lexicon's limits (characters are grapheme clusters,
    /// what the lexicon's `maxGraphemes` counts).
    private mutating func text(
        _ entries: MappingEntries, _ key: String, in node: Node, maxCharacters: Int, maxBytes: Int
    ) -> String? {
        guard let valueNode = entries[key] else {
            reader.error(node, "a locale needs '\(key)'")
            return nil
        }
        guard let text = reader.string(valueNode, key) else { return nil }
        if text.allSatisfy(\.isWhitespace) {
            reader.error(valueNode, "\(key) is empty")
            return nil
        }
        if text.count > maxCharacters {
            reader.error(valueNode, "\(key) is \(text.count) characters long; the limit is \(maxCharacters)")
            return nil
        }
        if text.utf8.count > maxBytes {
            reader.error(valueNode, "\(key) is \(text.utf8.count) bytes long in UTF-8; the limit is \(maxBytes)")
            return nil
        }
        return text
    }
}
