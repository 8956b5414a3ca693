/// A part of a record a matcher reads, named as rule files name it (`in: [text, alt]`).
public enum Field: UInt8, CaseIterable, Sendable, Hashable, CustomStringConvertible {
    /// Post text.
    case text
    /// Image and video alt texts of a post.
    case alt
    /// Link facet URIs and the external embed URI of a post.
    case links
    /// Lowercased hosts of ``links``.
    case domains
    /// Hashtag facets and the `tags` array of a post.
    case tags
    /// Language codes a post declares.
    case langs
    /// Profile display name.
    case displayName
    /// Profile, list or starter pack description.
    case description
    /// List or starter pack name.
    case name
    /// The handle of an identity event.
    case handle
    /// Every string in the record (any collection); a report's reason.
    case anyText
    /// The reason text of a report.
    case reason

    /// The name used in rule files.
    public var yamlName: String {
        switch self {
        case .text: "text"
        case .alt: "alt"
        case .links: "links"
        case .domains: "domains"
        case .tags: "tags"
        case .langs: "langs"
        case .displayName: "display_name"
        case .description: "description"
        case .name: "name"
        case .handle: "handle"
        case .anyText: "any_text"
        case .reason: "reason"
        }
    }

    public var description: String { yamlName }

    /// The field called `name` in rule files.
    public init?(yamlName name: String) {
        guard let field = Field.allCases.first(where: { $0.yamlName == name }) else { return nil }
        self = field
    }
}

/// A set of ``Field``s as a bit set: matchers keep one per record kind and test it per hit.
public struct FieldSet: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16

    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public init(_ field: Field) { rawValue = 1 << field.rawValue }

    public init(_ fields: some Sequence<Field>) {
        self.init(rawValue: fields.reduce(0) { $0 | 1 << $1.rawValue })
    }

    public func contains(_ field: Field) -> Bool { rawValue & (1 << field.rawValue) != 0 }

    /// The fields, in declaration order.
    public var members: [Field] { Field.allCases.filter { contains($0) } }

    /// Removes and returns the first field (in declaration order); iterates without allocating.
    mutating func popFirst() -> Field? {
        guard rawValue != 0 else { return nil }
        let bit = rawValue.trailingZeroBitCount
        self = FieldSet(rawValue: rawValue & (rawValue &- 1))
        return Field(rawValue: UInt8(bit))
    }
}
