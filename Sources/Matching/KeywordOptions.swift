/// How a keyword must sit in the text to count.
public enum KeywordMode: Sendable, Hashable {
    /// As a whole word (see ``WordBoundary``): `scam` matches `a scam!` but not `scampi`.
    case word
    /// Anywhere, inside words too: `scam` matches `scampi`.
    case substring
}

/// Per-keyword matching options.
public struct KeywordOptions: Sendable, Hashable {
    public var mode: KeywordMode
    /// Extra foldings applied to this keyword and to the text it is matched against.
    public var folding: NormalizationOptions

    public init(mode: KeywordMode = .word, folding: NormalizationOptions = []) {
        self.mode = mode
        self.folding = folding
    }

    /// Whole word, base normalisation only: the default.
    public static let word = KeywordOptions(mode: .word)
    /// Anywhere in the text, base normalisation only.
    public static let substring = KeywordOptions(mode: .substring)
}

/// A keyword that cannot be matched.
public enum KeywordError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Nothing but whitespace is left of the keyword after normalisation (it was empty, blank, or
    /// only invisible characters or marks).
    case emptyAfterNormalization(keyword: String)

    public var description: String {
        switch self {
        case .emptyAfterNormalization(let keyword):
            "keyword \(String(reflecting: keyword)) is empty after normalisation"
        }
    }
}
