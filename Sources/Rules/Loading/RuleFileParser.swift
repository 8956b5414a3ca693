import Yams

/// Turns one rule file's node tree into ``RuleDefinition``s, reporting every problem that can be
/// seen within the file: unknown keys, wrong value types, bad kinds, fields, label values,
/// durations and missing list files. Problems that span files (ids, references, regexes, keywords)
/// are the compiler's.
struct RuleFileParser {
    static let ruleKeys =
        [
            "id", "description", "on", "match", "unless", "label", "subject", "expires_in", "mode", "on_no_match",
            "threshold", "limits", "negate", "escalate",
        ] + impactKeys
    static let conditionHeads = ["any", "all", "not", "rule", "langs", "reason_types", "reporter", "regex", "keywords"]
    static let regexKeys = ["regex", "case_insensitive", "in"]
    static let keywordKeys = ["keywords", "mode", "leet", "squeeze", "in"]
    static let conditionKeys = Array(Set(conditionHeads + regexKeys + keywordKeys)).sorted()

    var reader: YAMLReader
    let readList: (String) throws(ListFileError) -> String
    /// The folder of this file, for resolving list paths.
    let directory: String
    /// Every list file read, by resolved path.
    var listFiles: [String] = []

    init(source: SourceText, readList: @escaping (String) throws(ListFileError) -> String) {
        reader = YAMLReader(source: source)
        self.readList = readList
        let path = source.path
        directory = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
    }

    var diagnostics: [RuleDiagnostic] { reader.diagnostics }

    /// The rules of the file (possibly none); problems are in ``diagnostics``.
    mutating func parse() -> [RuleDefinition] {
        guard let root = reader.compose() else { return [] }
        guard let top = reader.entries(of: root, in: "a rule file", allowed: ["rules"]) else { return [] }
        guard let list = top["rules"] else {
            reader.error(root, "a rule file needs a 'rules' list at the top level")
            return []
        }
        if case .scalar(let scalar) = list, scalar.string.isEmpty { return [] }  // `rules:` with nothing yet
        guard let items = list.sequence else {
            reader.error(list, "'rules' must be a list of rules (lines starting with '- ')")
            return []
        }
        return items.compactMap { rule($0) }
    }

    // MARK: Rules

    private mutating func rule(_ node: Node) -> RuleDefinition? {
        guard let entries = reader.entries(of: node, in: "a rule", allowed: Self.ruleKeys) else { return nil }

        var id = ""
        var idLocation = reader.location(of: node)
        if let idNode = entries["id"] {
            idLocation = reader.location(of: idNode)
            if let text = reader.string(idNode, "id") {
                id = text
                if !Self.isValidID(text) {
                    reader.error(
                        idNode, "invalid rule id '\(text)': use letters, digits, '-', '_' and '.' (at most 128)")
                }
            }
        } else {
            reader.error(node, "a rule needs an 'id'")
        }
        let named = id.isEmpty ? "this rule" : "rule '\(id)'"

        let kinds =
            entries["on"].map { self.kinds($0) }
            ?? {
                reader.error(
                    node, "\(named) needs 'on' (post, profile, list, starterpack, handle, report or a collection NSID)")
                return []
            }()

        var match: ConditionDefinition?
        if let matchNode = entries["match"] {
            match = condition(matchNode, kinds: kinds)
        } else {
            reader.error(node, "\(named) needs a 'match' condition")
        }
        let unless = entries["unless"].flatMap { condition($0, kinds: kinds) }

        var label: String?
        var labelLocation: SourceLocation?
        if let labelNode = entries["label"], let value = reader.string(labelNode, "label") {
            if let problem = LabelValue.problem(with: value) { reader.error(labelNode, problem) }
            label = value
            labelLocation = reader.location(of: labelNode)
        }
        let onReports = kinds.contains(.report)
        var negatesLabel = false
        if let negateNode = entries["negate"], let value = reader.string(negateNode, "negate") {
            if !onReports {
                reader.error(
                    negateNode,
                    "negate: applies to report rules (on: [report]); a record rule takes its label back with "
                        + "on_no_match: negate")
            } else if label != nil {
                reader.error(
                    negateNode, "a rule either applies a label or negates one: use 'label' or 'negate', not both")
            } else {
                if let problem = LabelValue.problem(with: value) { reader.error(negateNode, problem) }
                label = value
                labelLocation = reader.location(of: negateNode)
                negatesLabel = true
            }
        }
        var escalates = false
        if let escalateNode = entries["escalate"], let value = reader.bool(escalateNode, "escalate") {
            if !onReports {
                reader.error(
                    escalateNode, "escalate applies to report rules (on: [report]), which have reports to escalate")
            }
            escalates = value
        }

        let subject = subjectKind(entries, kinds: kinds, named: named)

        var expiresIn: RuleDuration?
        if let node = entries["expires_in"] { expiresIn = duration(node, "expires_in") }

        var mode = RuleMode.label
        if let node = entries["mode"], let text = reader.string(node, "mode") {
            if let value = RuleMode(rawValue: text) {
                mode = value
            } else {
                reader.error(
                    node, "invalid mode '\(text)': use label or log" + Suggestion.hint(for: text, in: ["label", "log"]))
            }
        }

        var negate = false
        if let node = entries["on_no_match"], onReports {
            reader.error(node, "on_no_match does not apply to reports (a report is never updated); use negate: VALUE")
        } else if let node = entries["on_no_match"], let text = reader.string(node, "on_no_match") {
            if text == "negate" {
                negate = true
            } else if text != "keep" {
                reader.error(node, "invalid on_no_match '\(text)': use negate (or keep, the default)")
            }
        }

        var threshold: Threshold?
        if let node = entries["threshold"] { threshold = self.threshold(node) }
        if negate, threshold != nil, let node = entries["on_no_match"] {
            reader.error(
                node,
                "on_no_match: negate cannot be combined with a threshold "
                    + "(one record that stops matching says nothing about the account)"
            )
        }
        if negate, label == nil, let node = entries["on_no_match"] {
            reader.error(node, "on_no_match: negate needs a 'label' to negate")
        }
        if expiresIn != nil, label == nil || negatesLabel, let node = entries["expires_in"] {
            reader.error(node, "expires_in needs a 'label' to expire")
        }

        var limits: RuleLimits?
        if let node = entries["limits"] {
            limits = self.limits(node)
            if label == nil { reader.error(node, "limits needs a 'label' to limit") }
        }

        var description: String?
        if let node = entries["description"] { description = reader.string(node, "description") }

        // A rule with problems is still returned (unless it has no id), so that references to it
        // and its regexes and keywords are checked too; the set will not load anyway.
        guard !id.isEmpty else { return nil }
        var rule = RuleDefinition(
            id: id, idLocation: idLocation, description: description, kinds: kinds, match: match ?? .any([]),
            unless: unless,
            label: label, labelLocation: labelLocation, subject: subject, expiresIn: expiresIn, mode: mode,
            negateOnNoMatch: negate,
            threshold: threshold, limits: limits, directory: directory)
        rule.negatesLabel = negatesLabel
        rule.escalates = escalates
        readImpact(entries, into: &rule)
        return rule
    }

    static func isValidID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 128
            && id.unicodeScalars.allSatisfy {
                $0.isASCII
                    && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0))
            }
    }

    private mutating func kinds(_ node: Node) -> [RecordKind] {
        guard let values = reader.strings(node, "on") else { return [] }
        var kinds: [RecordKind] = []
        for (text, item) in values {
            if let kind = RecordKind(yamlName: text) {
                if !kinds.contains(kind) { kinds.append(kind) }
            } else if text.contains(".") {
                reader.error(
                    item, "'\(text)' is not a valid NSID or NSID glob (such as app.bsky.feed.like or com.example.*)")
            } else {
                reader.error(
                    item,
                    "unknown record kind '\(text)': use post, profile, list, starterpack, handle, report or a "
                        + "collection NSID"
                        + Suggestion.hint(for: text, in: RecordKind.named.map(\.yamlName)))
            }
        }
        if values.isEmpty { reader.error(node, "'on' needs at least one record kind") }
        if kinds.contains(.report), kinds.count > 1 {
            reader.error(
                node,
                "'report' cannot be combined with other kinds in one rule: reports and records are different "
                    + "events (write two rules)")
        }
        return kinds
    }

    private mutating func subjectKind(_ entries: MappingEntries, kinds: [RecordKind], named: String) -> LabelSubjectKind
    {
        guard let node = entries["subject"] else {
            // Identity events have no record, so a handle-only rule is about the account.
            if !kinds.isEmpty, kinds.allSatisfy({ $0 == .handle }) { return .account }
            if kinds.contains(.handle) {
                reader.error(
                    entries.node, "\(named) runs on handle events, which have no record: add 'subject: account'")
            }
            return .record
        }
        guard let text = reader.string(node, "subject") else { return .record }
        guard let subject = LabelSubjectKind(rawValue: text) else {
            reader.error(
                node,
                "invalid subject '\(text)': use record or account"
                    + Suggestion.hint(for: text, in: ["record", "account"]))
            return .record
        }
        if subject == .record, kinds.contains(.handle) {
            reader.error(
                node, "subject: record is not possible on handle events (they have no record); use subject: account")
        }
        return subject
    }

    private mutating func duration(_ node: Node, _ what: String) -> RuleDuration? {
        guard let text = reader.string(node, what) else { return nil }
        guard let duration = RuleDuration(text) else {
            reader.error(
                node,
                "invalid duration '\(text)': use a whole number and a unit s, m, h or d "
                    + "(30s, 10m, 24h, 7d; at most 10 years)"
            )
            return nil
        }
        return duration
    }

    /// `limits: {per_minute: N, per_hour: N, per_day: N}`, at least one, each at least 1.
    private mutating func limits(_ node: Node) -> RuleLimits? {
        guard let entries = reader.entries(of: node, in: "limits", allowed: RuleLimits.keys) else { return nil }
        var limits = RuleLimits()
        var valid = true
        for key in RuleLimits.keys {
            guard let valueNode = entries[key] else { continue }
            guard let value = reader.int(valueNode, "limits \(key)") else {
                valid = false
                continue
            }
            guard value >= 1 else {
                reader.error(valueNode, "limits \(key) must be at least 1 (to stop a rule, remove it or use mode: log)")
                valid = false
                continue
            }
            switch key {
            case "per_minute": limits.perMinute = value
            case "per_hour": limits.perHour = value
            default: limits.perDay = value
            }
        }
        if limits == RuleLimits() {
            // Unknown keys were reported already; only an empty mapping needs saying.
            if valid && (node.mapping?.count ?? 0) == 0 {
                reader.error(node, "limits needs per_minute, per_hour or per_day")
            }
            return nil
        }
        return limits
    }

    private mutating func threshold(_ node: Node) -> Threshold? {
        guard let entries = reader.entries(of: node, in: "threshold", allowed: ["count", "within"]) else { return nil }
        var count: Int?
        if let countNode = entries["count"], let value = reader.int(countNode, "threshold count") {
            if value >= 1 { count = value } else { reader.error(countNode, "threshold count must be at least 1") }
        } else if !entries.contains("count") {
            reader.error(node, "threshold needs 'count' (how many matching records)")
        }
        var within: RuleDuration?
        if let withinNode = entries["within"] {
            within = duration(withinNode, "within")
        } else {
            reader.error(node, "threshold needs 'within' (the window, such as 24h)")
        }
        guard let count, let within else { return nil }
        return Threshold(count: count, within: within)
    }
}
