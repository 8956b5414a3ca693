/// A custom label value as the operator defines it in `labels.yaml`: how clients show it and what
/// it is called in each language. Clients only know what a custom value means from these
/// definitions, published in the labeler's `app.bsky.labeler.service` record; a value without
/// one is stored and served but shown by no client.
public struct LabelDefinition: Hashable, Sendable {
    /// How a client conveys the label (lexicon `labelValueDefinition.severity`).
    public enum Severity: String, Hashable, Sendable, Codable, CaseIterable {
        /// Neutral and informational.
        case inform
        /// Negative: a warning.
        case alert
        /// Nothing is shown.
        case none
    }

    /// What a client hides when the label applies (lexicon `labelValueDefinition.blurs`).
    public enum Blurs: String, Hashable, Sendable, Codable, CaseIterable {
        /// All of the labeled content.
        case content
        /// Its images, video and audio.
        case media
        /// Nothing.
        case none
    }

    /// What a user who never changed the setting gets (lexicon `labelValueDefinition.defaultSetting`).
    public enum DefaultSetting: String, Hashable, Sendable, Codable, CaseIterable {
        case ignore
        case warn
        case hide
    }

    /// The label value (`identifier` in the lexicon).
    public var value: String
    public var severity: Severity
    public var blurs: Blurs
    /// `default:` in the file; `warn` when omitted, as in the lexicon.
    public var defaultSetting: DefaultSetting
    /// Whether users must have adult content enabled to configure the label.
    public var adultOnly: Bool
    /// Names and descriptions per language; at least one.
    public var locales: [LabelLocale]
    /// Where the value is written in `labels.yaml`.
    public var location: SourceLocation

    public init(
        value: String, severity: Severity, blurs: Blurs, defaultSetting: DefaultSetting = .warn,
        adultOnly: Bool = false, locales: [LabelLocale], location: SourceLocation
    ) {
        self.value = value
        self.severity = severity
        self.blurs = blurs
        self.defaultSetting = defaultSetting
        self.adultOnly = adultOnly
        self.locales = locales
        self.location = location
    }

    /// The definition as the lexicon's `com.atproto.label.defs#labelValueDefinition`.
    public var lexicon: LabelValueDefinition {
        LabelValueDefinition(
            identifier: value, severity: severity, blurs: blurs, defaultSetting: defaultSetting,
            adultOnly: adultOnly, locales: locales)
    }

    /// Longest value the lexicon allows for `identifier`, in characters (ASCII, so bytes too).
    public static let maxValueLength = 100
}

/// A label's name and description in one language: the lexicon's
/// `com.atproto.label.defs#labelValueDefinitionStrings`, field for field.
public struct LabelLocale: Hashable, Sendable, Codable {
    /// A BCP 47 language tag (`en`, `pt-BR`).
    public var lang: String
    /// A short name, shown on the label.
    public var name: String
    /// What the label means and why it may be applied.
    public var description: String

    public init(lang: String, name: String, description: String) {
        self.lang = lang
        self.name = name
        self.description = description
    }

    /// The lexicon's limits for `name`: `maxGraphemes` and `maxLength` (UTF-8 bytes).
    public static let maxNameCharacters = 64
    public static let maxNameBytes = 640
    /// The lexicon's limits for `description`.
    public static let maxDescriptionCharacters = 10_000
    public static let maxDescriptionBytes = 100_000
}

/// `com.atproto.label.defs#labelValueDefinition`, encoded with exactly the lexicon's field names
/// (`JSONEncoder` gives the JSON a record needs).
public struct LabelValueDefinition: Hashable, Sendable, Codable {
    public var identifier: String
    public var severity: LabelDefinition.Severity
    public var blurs: LabelDefinition.Blurs
    public var defaultSetting: LabelDefinition.DefaultSetting
    public var adultOnly: Bool
    public var locales: [LabelLocale]

    public init(
        identifier: String, severity: LabelDefinition.Severity, blurs: LabelDefinition.Blurs,
        defaultSetting: LabelDefinition.DefaultSetting, adultOnly: Bool, locales: [LabelLocale]
    ) {
        self.identifier = identifier
        self.severity = severity
        self.blurs = blurs
        self.defaultSetting = defaultSetting
        self.adultOnly = adultOnly
        self.locales = locales
    }
}

/// `app.bsky.labeler.defs#labelerPolicies`, the `policies` of an `app.bsky.labeler.service`
/// record: the values the labeler publishes and the definitions of its custom ones.
public struct LabelerPolicies: Hashable, Sendable, Codable {
    public var labelValues: [String]
    public var labelValueDefinitions: [LabelValueDefinition]

    public init(labelValues: [String], labelValueDefinitions: [LabelValueDefinition]) {
        self.labelValues = labelValues
        self.labelValueDefinitions = labelValueDefinitions
    }
}

/// The definitions of a rules folder's `labels.yaml`, in file order.
///
/// Once the file exists, every value a rule emits must be defined in it (or be a global value),
/// so what the rules emit and what the service record declares cannot drift apart.
public struct LabelDefinitions: Hashable, Sendable {
    /// The file's name in the rules folder.
    public static let fileName = "labels.yaml"

    /// The file's path as it was read.
    public let path: String
    public let definitions: [LabelDefinition]

    public init(path: String, definitions: [LabelDefinition]) {
        self.path = path
        self.definitions = definitions
    }

    /// The defined values, in file order.
    public var values: [String] { definitions.map(\.value) }

    /// The definition of `value`, if any.
    public func definition(of value: String) -> LabelDefinition? {
        definitions.first { $0.value == value }
    }

    /// Every definition in the lexicon's form, for `policies.labelValueDefinitions`.
    public var labelValueDefinitions: [LabelValueDefinition] { definitions.map(\.lexicon) }

    /// The service record's `policies`: the defined values, then those of `otherValues` not among
    /// them (global values the rules emit, which need no definition), and every definition.
    public func policies(alsoPublishing otherValues: [String] = []) -> LabelerPolicies {
        var labelValues = values
        for value in otherValues where !labelValues.contains(value) { labelValues.append(value) }
        return LabelerPolicies(labelValues: labelValues, labelValueDefinitions: labelValueDefinitions)
    }

    /// Reads and checks `labels.yaml` text.
    /// - Throws: ``RuleLoadError`` with every problem, each at its `file:line:column`.
    public static func parse(_ text: String, path: String) throws(RuleLoadError) -> LabelDefinitions {
        var parser = LabelDefinitionParser(source: SourceText(path: path, text: text))
        let definitions = parser.parse()
        guard parser.diagnostics.isEmpty else { throw RuleLoadError(diagnostics: parser.diagnostics) }
        return LabelDefinitions(path: path, definitions: definitions)
    }

    /// The `labels.yaml` of the rules folder `directory`, or `nil` when it has none.
    /// - Throws: ``RuleLoadError`` when the file cannot be read or has problems.
    public static func load(directory: String) throws(RuleLoadError) -> LabelDefinitions? {
        guard let file = try RuleSources.labelDefinitionsFile(in: directory) else { return nil }
        return try parse(file.text, path: file.path)
    }
}
