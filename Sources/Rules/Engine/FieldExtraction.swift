import ATProto

/// Reads the values of a field from an event, leniently (a field of the wrong type is absent, as
/// in the record views).
enum FieldExtraction {
    static func values(of field: Field, in context: RecordContext, post: inout PostView?) -> [String] {
        if let report = context.report {
            return (field == .reason || field == .anyText) && !report.reason.isEmpty ? [report.reason] : []
        }
        if let handle = context.handle, context.isIdentity {
            return field == .handle || field == .anyText ? [handle] : []
        }
        guard let record = context.record else { return [] }
        switch field {
        case .text:
            // Read directly: most rules read only the text, and the full view parses facets
            // and embeds.
            guard context.collection == Collections.post, let text = record["text"]?.stringValue, !text.isEmpty else {
                return []
            }
            return [text]
        case .langs:
            guard context.collection == Collections.post else { return [] }
            return record["langs"]?.arrayValue?.compactMap(\.stringValue) ?? []
        case .alt, .links, .domains, .tags:
            guard context.collection == Collections.post else { return [] }
            // Most posts have neither facets, embed nor tags: nothing to parse.
            if record["facets"] == nil, record["embed"] == nil, record["tags"] == nil { return [] }
            let view = post ?? PostView(record)
            post = view
            switch field {
            case .alt: return view.altTexts
            case .links: return view.links
            case .domains:
                var hosts: [String] = []
                for link in view.links {
                    if let host = host(of: link), !hosts.contains(host) { hosts.append(host) }
                }
                return hosts
            default: return view.tags
            }
        case .displayName:
            return record["displayName"]?.stringValue.map { [$0] } ?? []
        case .description:
            return record["description"]?.stringValue.map { [$0] } ?? []
        case .name:
            return record["name"]?.stringValue.map { [$0] } ?? []
        case .handle, .reason:
            return []
        case .anyText:
            var strings: [String] = []
            RecordStrings.visit(record, path: "") { _, text in strings.append(text.string) }
            return strings
        }
    }

    /// The lowercased host of a URL (`https://User@Bit.ly:443/x` → `bit.ly`), or `nil` when there
    /// is none. A URL without a scheme is read as starting with its host.
    static func host(of url: String) -> String? {
        var rest = Substring(url)
        if let scheme = rest.range(of: "://") { rest = rest[scheme.upperBound...] }
        if let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) { rest = rest[..<end] }
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        if rest.hasPrefix("[") {
            if let close = rest.firstIndex(of: "]") { rest = rest[...close] }
        } else if let colon = rest.lastIndex(of: ":") {
            rest = rest[..<colon]
        }
        while rest.hasSuffix(".") { rest = rest.dropLast() }
        return rest.isEmpty ? nil : rest.lowercased()
    }
}
