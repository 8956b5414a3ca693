import Matching

extension Field {
    /// How a value of this field holds a keyword when it is matched as an exact token, or `nil`
    /// for free text. A `keywords:` matcher in word mode that reads only token fields is compiled
    /// into a hashed set instead of the keyword automaton (see ``TokenSet``): a host, a hashtag, a
    /// handle or a language code is one token, and looking it up costs the same for a list of ten
    /// entries or of a million.
    ///
    /// * `domains` and `handle` are domain names: an entry matches the value or one of its
    ///   parent domains (`bit.ly` matches `x.bit.ly`).
    /// * `tags` are whole hashtags.
    /// * `langs` are language tags: an entry matches the tag or a prefix of it cut at a hyphen
    ///   (`pt` matches `pt-BR`).
    var tokenShape: TokenShape? {
        switch self {
        case .domains, .handle: .domain
        case .tags: .whole
        case .langs: .languageTag
        case .text, .alt, .links, .displayName, .description, .name, .anyText, .reason: nil
        }
    }
}
