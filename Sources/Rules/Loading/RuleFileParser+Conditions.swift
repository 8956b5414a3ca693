import ATProto
import Yams

/// Conditions: `any`, `all`, `not`, `rule`, `langs`, the report conditions `reason_types` and
/// `reporter`, and the regex and keyword matchers, with their list files and fields.
extension RuleFileParser {
    mutating func condition(_ node: Node, kinds: [RecordKind]) -> ConditionDefinition? {
        guard node.mapping != nil else {
            reader.error(
                node, "a condition must be a mapping with one of " + Self.conditionHeads.joined(separator: ", "))
            return nil
        }
        guard let entries = reader.entries(of: node, in: "a condition", allowed: Self.conditionKeys) else { return nil }
        let heads = entries.order.filter { Self.conditionHeads.contains($0) }
        guard let head = heads.first else {
            if !entries.order.isEmpty || node.mapping?.isEmpty == true {
                reader.error(node, "a condition needs one of " + Self.conditionHeads.joined(separator: ", "))
            }
            return nil
        }
        for extra in heads.dropFirst() {
            reader.error(
                entries.keyNode(extra)!,
                "'\(extra)' cannot be combined with '\(head)' in one condition; put them in a list under any: or all:")
        }
        let allowed: [String] =
            switch head {
            case "regex": Self.regexKeys
            case "keywords": Self.keywordKeys
            default: [head]
            }
        for key in entries.order where !allowed.contains(key) && !Self.conditionHeads.contains(key) {
            reader.error(
                entries.keyNode(key)!,
                "'\(key)' does not apply to '\(head)'; it goes with "
                    + (Self.regexKeys.contains(key) && Self.keywordKeys.contains(key)
                        ? "regex or keywords" : Self.regexKeys.contains(key) ? "regex" : "keywords"))
        }
        guard heads.count == 1 else { return nil }
        let value = entries[head]!

        switch head {
        case "any", "all":
            guard let items = value.sequence, !items.isEmpty else {
                reader.error(value, "'\(head)' needs a list of conditions")
                return nil
            }
            let children = items.compactMap { condition($0, kinds: kinds) }
            return head == "any" ? .any(children) : .all(children)
        case "not":
            return condition(value, kinds: kinds).map { .not($0) }
        case "rule":
            guard let id = reader.string(value, "rule") else { return nil }
            return .rule(id, reader.location(of: value))
        case "langs":
            return langs(value, kinds: kinds)
        case "reason_types":
            return reasonTypes(value, kinds: kinds)
        case "reporter":
            return reporter(value, kinds: kinds)
        case "regex":
            return regexMatcher(entries, value: value, kinds: kinds)
        default:
            return keywordMatcher(entries, value: value, kinds: kinds)
        }
    }

    private mutating func langs(_ node: Node, kinds: [RecordKind]) -> ConditionDefinition? {
        if !kinds.isEmpty, !kinds.contains(.post) {
            reader.error(node, "langs applies to posts only (other records declare no languages)")
        }
        guard let values = reader.strings(node, "langs") else { return nil }
        var codes: [String] = []
        for (text, item) in values {
            let code = text.lowercased()
            guard !code.isEmpty, code.count <= 8, code.allSatisfy({ $0.isASCII && $0.isLetter }) else {
                reader.error(item, "invalid language '\(text)': use a primary language code such as en or pt")
                continue
            }
            codes.append(code)
        }
        if values.isEmpty { reader.error(node, "langs needs at least one language code") }
        return .langs(codes)
    }

    /// `reason_types: [spam, misleading*, tools.ozone.report.defs#reasonSexualNCII]`: a full
    /// reason type, or a short name (what follows `#reason`, any case) naming every known reason
    /// type that has it; a trailing `*` names every known one whose short name starts so.
    private mutating func reasonTypes(_ node: Node, kinds: [RecordKind]) -> ConditionDefinition? {
        if !kinds.isEmpty, !kinds.contains(.report) {
            reader.error(node, "reason_types applies to report rules only (on: [report])")
        }
        guard let values = reader.strings(node, "reason_types") else { return nil }
        var types = Set<String>()
        for (text, item) in values {
            if text.contains("#") {
                guard ReportReasonType.all.contains(text) else {
                    reader.error(
                        item,
                        "unknown reason type '\(text)'"
                            + Suggestion.hint(for: text, in: ReportReasonType.all))
                    continue
                }
                types.insert(text)
                continue
            }
            let wanted = text.lowercased()
            let prefix = wanted.hasSuffix("*") ? String(wanted.dropLast()) : nil
            let named = ReportReasonType.all.filter { type in
                guard let short = ReportReasonType.shortName(of: type) else { return false }
                if let prefix { return short.hasPrefix(prefix) }
                return short == wanted
            }
            if named.isEmpty {
                let shortNames = Array(Set(ReportReasonType.all.compactMap(ReportReasonType.shortName))).sorted()
                reader.error(
                    item,
                    "unknown reason type '\(text)': use a short name such as spam, violation, misleading, sexual, "
                        + "rude, other or appeal, a prefix with '*' (misleading*), or a full reason type"
                        + Suggestion.hint(for: wanted, in: shortNames))
                continue
            }
            types.formUnion(named)
        }
        if values.isEmpty { reader.error(node, "reason_types needs at least one reason type") }
        return .reasonTypes(types)
    }

    /// `reporter: {muted: false|true|any, dismissed_at_most: N, dismissed_at_least: N}`.
    private mutating func reporter(_ node: Node, kinds: [RecordKind]) -> ConditionDefinition? {
        if !kinds.isEmpty, !kinds.contains(.report) {
            reader.error(node, "reporter applies to report rules only (on: [report])")
        }
        guard let entries = reader.entries(of: node, in: "reporter", allowed: ReporterCondition.keys) else {
            return nil
        }
        var condition = ReporterCondition()
        if let mutedNode = entries["muted"] {
            condition.mentionsMuted = true
            if mutedNode.scalar?.string == "any" {
                condition.muted = nil
            } else if let value = reader.bool(mutedNode, "reporter muted (true, false or any)") {
                condition.muted = value
            }
        }
        for key in ["dismissed_at_most", "dismissed_at_least"] {
            guard let valueNode = entries[key], let value = reader.int(valueNode, "reporter \(key)") else { continue }
            guard value >= 0 else {
                reader.error(valueNode, "reporter \(key) cannot be negative")
                continue
            }
            if key == "dismissed_at_most" {
                condition.dismissedAtMost = value
            } else {
                condition.dismissedAtLeast = value
            }
        }
        if entries.order.isEmpty {
            reader.error(node, "reporter needs muted, dismissed_at_most or dismissed_at_least")
            return nil
        }
        return .reporter(condition)
    }

    private mutating func regexMatcher(
        _ entries: MappingEntries, value: Node, kinds: [RecordKind]
    ) -> ConditionDefinition? {
        var caseInsensitive = false
        if let node = entries["case_insensitive"] { caseInsensitive = reader.bool(node, "case_insensitive") ?? false }
        let fields = entries["in"].map { self.fields($0, kinds: kinds) }
        guard let patterns = patterns(value, what: "regex") else { return nil }
        if value.scalar?.string.isEmpty == true {
            reader.error(value, "regex is empty")
            return nil
        }
        return .matcher(
            MatcherDefinition(
                source: .regexes(patterns, caseInsensitive: caseInsensitive), fields: fields ?? nil,
                location: reader.location(of: entries.node)))
    }

    private mutating func keywordMatcher(
        _ entries: MappingEntries, value: Node, kinds: [RecordKind]
    ) -> ConditionDefinition? {
        var options = KeywordMatcherOptions()
        if let node = entries["mode"], let text = reader.string(node, "keyword mode") {
            switch text {
            case "word": options.substring = false
            case "substring": options.substring = true
            default:
                reader.error(
                    node,
                    "invalid keyword mode '\(text)': use word or substring"
                        + Suggestion.hint(for: text, in: ["word", "substring"]))
            }
        }
        if let node = entries["leet"] { options.leet = reader.bool(node, "leet") ?? false }
        if let node = entries["squeeze"] { options.squeeze = reader.bool(node, "squeeze") ?? false }
        let fields = entries["in"].map { self.fields($0, kinds: kinds) }
        guard let patterns = patterns(value, what: "keywords") else { return nil }
        if value.sequence?.isEmpty == true {
            reader.error(value, "keywords is an empty list")
            return nil
        }
        return .matcher(
            MatcherDefinition(
                source: .keywords(patterns, options: options), fields: fields ?? nil,
                location: reader.location(of: entries.node)))
    }

    /// Inline patterns (one value or a list) or `{file: path}`.
    private mutating func patterns(_ node: Node, what: String) -> [PatternEntry]? {
        if node.mapping != nil {
            guard let entries = reader.entries(of: node, in: what, allowed: ["file"]) else { return nil }
            guard let fileNode = entries["file"], let path = reader.string(fileNode, "file") else {
                if !entries.contains("file") { reader.error(node, "\(what) needs a list of values or {file: path}") }
                return nil
            }
            return listFile(path, at: fileNode)
        }
        if let scalar = node.scalar {
            if what == "keywords", scalar.string.isEmpty {
                reader.error(node, "keywords is empty")
                return nil
            }
            return [entry(scalar, node: node)]
        }
        guard let items = node.sequence else {
            reader.error(node, "\(what) must be a value, a list or {file: path}")
            return nil
        }
        var entries: [PatternEntry] = []
        for item in items {
            guard let scalar = item.scalar else {
                reader.error(item, "each entry of \(what) must be a single value, not \(reader.kindName(of: item))")
                continue
            }
            entries.append(entry(scalar, node: item))
        }
        return entries
    }

    private func entry(_ scalar: Node.Scalar, node: Node) -> PatternEntry {
        let map = ScalarSourceMap(source: reader.source, scalar: scalar)
        return PatternEntry(text: scalar.string, location: reader.location(of: node), scalarMap: map)
    }

    private mutating func listFile(_ path: String, at node: Node) -> [PatternEntry]? {
        guard !path.isEmpty else {
            reader.error(node, "file path is empty")
            return nil
        }
        let resolved = path.hasPrefix("/") ? path : directory + "/" + path
        do {
            let text = try readList(resolved)
            if !listFiles.contains(resolved) { listFiles.append(resolved) }
            return ListFile.entries(of: text, path: resolved)
        } catch {
            reader.error(node, "cannot read list file '\(path)' (\(resolved)): \(error)")
            return nil
        }
    }

    private mutating func fields(_ node: Node, kinds: [RecordKind]) -> [Field]? {
        guard let values = reader.strings(node, "in") else { return nil }
        var fields: [Field] = []
        for (text, item) in values {
            guard let field = Field(yamlName: text) else {
                reader.error(
                    item, "unknown field '\(text)'" + Suggestion.hint(for: text, in: Field.allCases.map(\.yamlName)))
                continue
            }
            if !kinds.isEmpty, !kinds.contains(where: { $0.fields.contains(field) }) {
                if let kind = kinds.first(where: { $0.collection != nil || $0 == .handle || $0 == .report }) {
                    let names = kinds.map(\.yamlName).joined(separator: ", ")
                    reader.error(
                        item,
                        "field '\(text)' does not exist on \(names)\(kind == .report ? "s" : " records"); "
                            + "\(kind.yamlName) fields are "
                            + kind.fields.members.map(\.yamlName).joined(separator: ", "))
                } else {
                    reader.error(
                        item, "field '\(text)' does not exist on collections given by NSID; they offer any_text only")
                }
                continue
            }
            if !fields.contains(field) { fields.append(field) }
        }
        if values.isEmpty { reader.error(node, "'in' needs at least one field") }
        return fields
    }
}
