import ATProto
import HummingbirdCore
import LabelStore

/// The parameters of `com.atproto.label.queryLabels`, checked (PROTOCOL §3.5).
struct QueryLabelsRequest: Sendable, Equatable {
    static let defaultLimit = 50
    static let maxLimit = 250
    /// More patterns than any client needs, fewer than would make one query expensive.
    static let maxPatterns = 100
    static let maxSources = 100

    /// Empty means every URI (a pattern that is exactly `*`).
    var uriPatterns: [LabelStore.URIPattern]
    var sources: [String]
    var limit: Int
    /// The last seq of the previous page.
    var after: Int64

    /// Reads the query string; every problem is a 400 `InvalidRequest` naming the parameter.
    init(_ parameters: FlatDictionary<Substring, Substring>) throws(XRPCError) {
        let patterns = parameters[values: "uriPatterns"]
        guard !patterns.isEmpty else { throw .invalidRequest("uriPatterns is required") }
        guard patterns.count <= Self.maxPatterns else {
            throw .invalidRequest("at most \(Self.maxPatterns) uriPatterns are allowed")
        }
        var parsed: [LabelStore.URIPattern] = []
        var all = false
        for pattern in patterns {
            switch try Self.pattern(String(pattern)) {
            case nil: all = true
            case let p?: if !parsed.contains(p) { parsed.append(p) }
            }
        }
        uriPatterns = all ? [] : parsed

        let sources = parameters[values: "sources"].map(String.init)
        guard sources.count <= Self.maxSources else {
            throw .invalidRequest("at most \(Self.maxSources) sources are allowed")
        }
        for source in sources where !DID.isValid(source) {
            throw .invalidRequest("sources: \"\(source)\" is not a DID")
        }
        self.sources = sources

        if let text = parameters["limit"] {
            guard let limit = Int(text), (1...Self.maxLimit).contains(limit) else {
                throw .invalidRequest("limit must be an integer from 1 to \(Self.maxLimit)")
            }
            self.limit = limit
        } else {
            limit = Self.defaultLimit
        }

        if let text = parameters["cursor"] {
            guard let after = Int64(text), after >= 0 else { throw .invalidRequest("invalid cursor") }
            self.after = after
        } else {
            after = 0
        }
    }

    /// nil for `*` (everything); a prefix for one trailing `*`; otherwise an exact URI.
    static func pattern(_ text: String) throws(XRPCError) -> LabelStore.URIPattern? {
        guard !text.isEmpty else { throw .invalidRequest("uriPatterns: a pattern is empty") }
        guard text.utf8.count <= URIString.maxLength else {
            throw .invalidRequest("uriPatterns: a pattern is too long")
        }
        if text == "*" { return nil }
        guard let star = text.firstIndex(of: "*") else { return .exact(text) }
        guard star == text.index(before: text.endIndex) else {
            throw .invalidRequest("uriPatterns: \"\(text)\" is an invalid pattern ('*' is allowed only at the end)")
        }
        return .prefix(String(text[..<star]))
    }
}
