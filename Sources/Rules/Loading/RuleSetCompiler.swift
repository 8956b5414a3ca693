import Matching

/// Turns the rule files of a set into a ``RuleSet``: parses every file and the label definitions,
/// then checks what spans rules (duplicate ids, unknown and cyclic `rule:` references, label values
/// without a definition), compiles every regex and keyword, and orders the rules so that each comes
/// after the rules it references. Every problem is collected; any error means no rule set.
enum RuleSetCompiler {
    static func compile(_ sources: RuleSources, options: RuleSet.LoadOptions) throws(RuleLoadError) -> RuleSet {
        var diagnostics: [RuleDiagnostic] = []
        var definitions: [RuleDefinition] = []
        var listFiles: [String] = []
        for file in sources.ruleFiles {
            var parser = RuleFileParser(
                source: SourceText(path: file.path, text: file.text), readList: sources.readList)
            definitions += parser.parse()
            diagnostics += parser.diagnostics
            listFiles += parser.listFiles.filter { !listFiles.contains($0) }
        }

        var labelDefinitions: LabelDefinitions?
        var warnings: [RuleDiagnostic] = []
        if let file = sources.labelDefinitions {
            var parser = LabelDefinitionParser(source: SourceText(path: file.path, text: file.text))
            labelDefinitions = LabelDefinitions(path: file.path, definitions: parser.parse())
            diagnostics += parser.diagnostics
            checkLabels(
                definitions, declared: parser.declaredValues, file: file.path, diagnostics: &diagnostics,
                warnings: &warnings)
        } else {
            checkLabels(definitions, declared: nil, file: nil, diagnostics: &diagnostics, warnings: &warnings)
        }

        let index = indexIDs(definitions, diagnostics: &diagnostics)
        let references = resolveReferences(definitions, index: index, diagnostics: &diagnostics)
        let order = evaluationOrder(definitions, references: references, diagnostics: &diagnostics)

        var builder = Builder(prefilter: options.regexPrefilter)
        let position = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
        for definitionIndex in order {
            builder.add(definitions[definitionIndex], positions: position, index: index)
        }
        // The definitions hold every list entry; let them go before the automaton is built, so
        // a big list is not in memory twice over at the peak.
        definitions = []
        diagnostics += builder.diagnostics
        guard diagnostics.isEmpty else { throw RuleLoadError(diagnostics: diagnostics) }
        return RuleSet(
            rules: builder.rules, tables: builder.tables, keywords: builder.keywords.build(),
            tokens: builder.tokens.build(),
            files: sources.ruleFiles.map(\.path) + [labelDefinitions?.path].compactMap { $0 } + listFiles,
            labelDefinitions: labelDefinitions,
            warnings: warnings.sorted { ($0.location, $0.message) < ($1.location, $1.message) })
    }

    /// Checks the label value of every rule against the definitions: with `labels.yaml`
    /// (`declared` not `nil`), a value it does not define is an error, unless it is a global value;
    /// a global value the file does not redefine gets a warning saying what the app does with it.
    private static func checkLabels(
        _ definitions: [RuleDefinition], declared: [String: SourceLocation]?, file: String?,
        diagnostics: inout [RuleDiagnostic], warnings: inout [RuleDiagnostic]
    ) {
        for definition in definitions {
            guard let label = definition.label, let location = definition.labelLocation,
                LabelValue.problem(with: label) == nil
            else { continue }
            let defined = declared?[label] != nil
            if let warning = LabelValue.globalValueWarning(label, redefined: defined) {
                warnings.append(RuleDiagnostic(location, warning, severity: .warning))
            } else if let declared, let file, !defined {
                diagnostics.append(
                    RuleDiagnostic(
                        location,
                        "label value '\(label)' is not defined in \(LabelDefinitions.fileName) (\(file)); "
                            + "every value a rule emits needs a definition there"
                            + Suggestion.hint(for: label, in: declared.keys.sorted())))
            }
        }
    }

    /// Rule index by id; a repeated id is reported where it repeats.
    private static func indexIDs(_ definitions: [RuleDefinition], diagnostics: inout [RuleDiagnostic]) -> [String: Int]
    {
        var index: [String: Int] = [:]
        for (i, definition) in definitions.enumerated() {
            if let first = index[definition.id] {
                diagnostics.append(
                    RuleDiagnostic(
                        definition.idLocation,
                        "duplicate rule id '\(definition.id)' (first defined at \(definitions[first].idLocation))"))
            } else {
                index[definition.id] = i
            }
        }
        return index
    }

    /// The rules each rule references, as (target index, where the reference is written).
    private static func resolveReferences(
        _ definitions: [RuleDefinition], index: [String: Int], diagnostics: inout [RuleDiagnostic]
    ) -> [[(target: Int, location: SourceLocation)]] {
        definitions.map { definition in
            var found: [(String, SourceLocation)] = []
            collectReferences(definition.match, into: &found)
            if let unless = definition.unless { collectReferences(unless, into: &found) }
            return found.compactMap { id, location in
                guard let target = index[id] else {
                    diagnostics.append(
                        RuleDiagnostic(
                            location,
                            "unknown rule '\(id)' in rule reference" + Suggestion.hint(for: id, in: index.keys.sorted())
                        ))
                    return nil
                }
                let targetKinds = definitions[target].kinds
                let sharesKind = (0..<RecordKind.slotCount).contains { slot in
                    !definition.kinds.filter { RecordKind.kind($0, appliesTo: slot) }.isEmpty
                        && !targetKinds.filter { RecordKind.kind($0, appliesTo: slot) }.isEmpty
                }
                if !sharesKind, !definition.kinds.isEmpty, !targetKinds.isEmpty {
                    diagnostics.append(
                        RuleDiagnostic(
                            location,
                            "rule '\(id)' runs on " + targetKinds.map(\.yamlName).joined(separator: ", ")
                                + ", never on " + definition.kinds.map(\.yamlName).joined(separator: ", ")
                                + ", so this reference can never be true"))
                }
                return (target, location)
            }
        }
    }

    private static func collectReferences(
        _ condition: ConditionDefinition, into found: inout [(String, SourceLocation)]
    ) {
        switch condition {
        case .any(let children), .all(let children): for child in children { collectReferences(child, into: &found) }
        case .not(let child): collectReferences(child, into: &found)
        case .rule(let id, let location): found.append((id, location))
        case .matcher, .langs, .reasonTypes, .reporter: break
        }
    }

    /// Definition indices ordered so that referenced rules come first (file order otherwise).
    /// Every reference that closes a cycle is reported, with the cycle spelled out.
    private static func evaluationOrder(
        _ definitions: [RuleDefinition], references: [[(target: Int, location: SourceLocation)]],
        diagnostics: inout [RuleDiagnostic]
    ) -> [Int] {
        enum Mark { case unvisited, inProgress, done }
        var marks = [Mark](repeating: .unvisited, count: definitions.count)
        var order: [Int] = []
        var path: [Int] = []
        func visit(_ node: Int) {
            marks[node] = .inProgress
            path.append(node)
            for reference in references[node] {
                switch marks[reference.target] {
                case .unvisited:
                    visit(reference.target)
                case .inProgress:
                    let start = path.lastIndex(of: reference.target)!
                    let cycle = (path[start...] + [reference.target]).map { definitions[$0].id }
                    diagnostics.append(
                        RuleDiagnostic(reference.location, "rule reference cycle: " + cycle.joined(separator: " → ")))
                case .done:
                    break
                }
            }
            path.removeLast()
            marks[node] = .done
            order.append(node)
        }
        for node in definitions.indices where marks[node] == .unvisited { visit(node) }
        return order
    }

    /// Compiles rules in evaluation order into flat tables, collecting keywords and regex literals
    /// into one keyword automaton.
    private struct Builder {
        let prefilter: Bool
        var rules: [RuleInfo] = []
        var tables = CompiledTables()
        var keywords = KeywordSetBuilder<ScanTag>()
        var tokens = TokenSetBuilder<ScanTag>()
        var diagnostics: [RuleDiagnostic] = []
        /// The scan fields of the rule being compiled, per slot.
        private var ruleScanFields: [FieldSet] = []

        init(prefilter: Bool) {
            self.prefilter = prefilter
        }

        /// The gate of condition node `node` (see ``GateItem``): items one of which must happen
        /// for the node to hold, or `nil` when it can hold without any (`not`, `langs`, a regex
        /// without a literal).
        private func gate(of node: Int32) -> [GateItem]? {
            let condition = tables.nodes[Int(node)]
            let children = { tables.children[Int(condition.first)..<Int(condition.first + condition.count)] }
            switch condition.op {
            case .keywords:
                return [GateItem(kind: .keywords, index: condition.first)]
            case .regexes:
                let start = Int(tables.matcherRegexStart[Int(condition.first)])
                let regexes = start..<start + Int(tables.matcherRegexCount[Int(condition.first)])
                guard !regexes.isEmpty, regexes.allSatisfy({ tables.regexPrefiltered[$0] }) else { return nil }
                return regexes.map { GateItem(kind: .literal, index: Int32($0)) }
            case .rule:
                return [GateItem(kind: .rule, index: condition.first)]
            case .any:
                var items: [GateItem] = []
                for child in children() {
                    guard let gate = gate(of: child) else { return nil }
                    items += gate
                }
                return items.isEmpty ? nil : items
            case .all:
                // Any one child's gate will do; the smallest is the cheapest to check.
                return children().compactMap { gate(of: $0) }.min { $0.count < $1.count }
            case .not, .langs, .reasonTypes, .reporter:
                return nil
            }
        }

        mutating func add(_ definition: RuleDefinition, positions: [Int: Int], index: [String: Int]) {
            rules.append(
                RuleInfo(
                    id: definition.id, description: definition.description, kinds: definition.kinds,
                    label: definition.label, subject: definition.subject, expiresIn: definition.expiresIn,
                    mode: definition.mode, negateOnNoMatch: definition.negateOnNoMatch,
                    threshold: definition.threshold, limits: definition.limits, rollout: definition.rollout,
                    minimums: definition.minimums,
                    location: definition.idLocation, negatesLabel: definition.negatesLabel,
                    escalates: definition.escalates,
                    seesMutedReporters: Self.mentionsMuted(definition.match)
                        || definition.unless.map(Self.mentionsMuted) == true))
            let resolve: (String) -> Int? = { id in index[id].flatMap { positions[$0] } }
            ruleScanFields = Array(repeating: FieldSet(), count: RecordKind.slotCount)
            let condition = compile(definition.match, kinds: definition.kinds, resolve: resolve)
            let unless = definition.unless.map { compile($0, kinds: definition.kinds, resolve: resolve) } ?? -1
            tables.scanFields += ruleScanFields
            let start = Int32(tables.gateItems.count)
            if let gate = gate(of: condition) {
                tables.gateItems += gate
                tables.plans.append(
                    RulePlan(condition: condition, unless: unless, gateStart: start, gateCount: Int32(gate.count)))
            } else {
                tables.plans.append(RulePlan(condition: condition, unless: unless, gateStart: start, gateCount: -1))
            }
            tables.negateOnNoMatch.append(definition.negateOnNoMatch)
        }

        /// Whether a condition says `muted` in a `reporter:` condition (see ``ReporterCondition``).
        static func mentionsMuted(_ condition: ConditionDefinition) -> Bool {
            switch condition {
            case .any(let children), .all(let children): children.contains(where: mentionsMuted)
            case .not(let child): mentionsMuted(child)
            case .reporter(let reporter): reporter.mentionsMuted
            case .matcher, .rule, .langs, .reasonTypes: false
            }
        }

        /// Adds the node for `condition` (after its children) and returns its index.
        private mutating func compile(
            _ condition: ConditionDefinition, kinds: [RecordKind], resolve: (String) -> Int?
        ) -> Int32 {
            let node: ConditionNode
            switch condition {
            case .any(let list), .all(let list):
                let nodes = list.map { compile($0, kinds: kinds, resolve: resolve) }
                let start = Int32(tables.children.count)
                tables.children += nodes
                let op: ConditionNode.Op = if case .any = condition { .any } else { .all }
                node = ConditionNode(op: op, first: start, count: Int32(nodes.count))
            case .not(let child):
                node = ConditionNode(op: .not, first: compile(child, kinds: kinds, resolve: resolve), count: 0)
            case .rule(let id, _):
                node = ConditionNode(op: .rule, first: Int32(resolve(id) ?? 0), count: 0)
            case .langs(let codes):
                tables.languageCodes.append(codes)
                node = ConditionNode(op: .langs, first: Int32(tables.languageCodes.count - 1), count: 0)
            case .reasonTypes(let types):
                tables.reasonTypeSets.append(types)
                node = ConditionNode(op: .reasonTypes, first: Int32(tables.reasonTypeSets.count - 1), count: 0)
            case .reporter(let reporter):
                tables.reporterConditions.append(reporter)
                node = ConditionNode(op: .reporter, first: Int32(tables.reporterConditions.count - 1), count: 0)
            case .matcher(let matcher):
                node = compile(matcher, kinds: kinds)
            }
            tables.nodes.append(node)
            return Int32(tables.nodes.count - 1)
        }

        /// Whether a keyword matcher is compiled into the token set: in word mode (substring mode
        /// asks for occurrences inside tokens, which only the automaton finds) and reading nothing
        /// but token fields on every kind of record it runs on. A matcher that also reads free text
        /// keeps word matching on all its fields, so one matcher never has two meanings.
        static func matchesAsTokens(_ options: KeywordMatcherOptions, reading fields: FieldSet) -> Bool {
            !options.substring && fields != FieldSet() && fields.members.allSatisfy { $0.tokenShape != nil }
        }

        static func emptyKeyword(_ entry: PatternEntry) -> RuleDiagnostic {
            RuleDiagnostic(
                entry.location,
                "keyword '\(entry.text)' is empty once normalised (only spaces, marks or invisible characters)")
        }

        /// Adds the matcher and returns its node.
        private mutating func compile(_ matcher: MatcherDefinition, kinds: [RecordKind]) -> ConditionNode {
            let index = tables.matcherRegexStart.count
            for slot in 0..<RecordKind.slotCount {
                let applying = kinds.filter { RecordKind.kind($0, appliesTo: slot) }
                let available = applying.reduce(FieldSet()) { $0.union($1.fields) }
                let wanted =
                    matcher.fields.map { FieldSet($0) } ?? applying.reduce(FieldSet()) { $0.union($1.defaultFields) }
                tables.matcherFields.append(wanted.intersection(available))
            }
            let fields = tables.matcherFields.suffix(RecordKind.slotCount)
            switch matcher.source {
            case .keywords(let entries, let options):
                var keywordOptions = KeywordOptions(mode: options.substring ? .substring : .word)
                if options.leet { keywordOptions.folding.insert(.leet) }
                if options.squeeze { keywordOptions.folding.insert(.squeeze) }
                let tag = ScanTag.keyword(matcher: Int32(index))
                let read = fields.reduce(FieldSet()) { $0.union($1) }
                if Self.matchesAsTokens(options, reading: read) {
                    tokens.reserveCapacity(
                        entries.count, bytes: entries.reduce(0) { $0 + $1.text.utf8.count },
                        folding: keywordOptions.folding)
                    for entry in entries {
                        do {
                            try tokens.add(entry.text, tag: tag, folding: keywordOptions.folding)
                        } catch {
                            diagnostics.append(Self.emptyKeyword(entry))
                        }
                    }
                } else {
                    var seen = Set<String>()
                    for entry in entries where seen.insert(entry.text).inserted {
                        do {
                            try keywords.add(entry.text, tag: tag, options: keywordOptions)
                        } catch {
                            diagnostics.append(Self.emptyKeyword(entry))
                        }
                    }
                }
                tables.matcherRegexStart.append(0)
                tables.matcherRegexCount.append(0)
                for (slot, set) in fields.enumerated() { ruleScanFields[slot].formUnion(set) }
                return ConditionNode(op: .keywords, first: Int32(index), count: 0)
            case .regexes(let entries, let caseInsensitive):
                let start = tables.regexes.count
                for entry in entries {
                    do {
                        let regex = try PCRE2Regex(entry.text, options: caseInsensitive ? .caseInsensitive : [])
                        var prefiltered = false
                        if prefilter {
                            // Literals go through the keyword normaliser like any text, so "the
                            // text contains it" implies "the automaton sees it".
                            let tag = ScanTag.literal(regex: Int32(tables.regexes.count))
                            if let literal = regex.prefilter {
                                prefiltered = (try? keywords.add(literal.text, tag: tag, options: .substring)) != nil
                                if prefiltered { tables.literalEntries += 1 }
                            } else if let literals = AlternationLiterals.extract(from: entry.text) {
                                // Plain ASCII alternatives never normalise to nothing.
                                prefiltered = true
                                for literal in literals {
                                    if (try? keywords.add(literal, tag: tag, options: .substring)) == nil {
                                        prefiltered = false
                                    } else {
                                        tables.literalEntries += 1
                                    }
                                }
                            }
                        }
                        tables.regexes.append(regex)
                        tables.regexPrefiltered.append(prefiltered)
                        tables.regexMatcher.append(Int32(index))
                    } catch {
                        diagnostics.append(
                            RuleDiagnostic(entry.position(error.scalarOffset), "invalid regex: \(error.message)"))
                    }
                }
                tables.matcherRegexStart.append(Int32(start))
                tables.matcherRegexCount.append(Int32(tables.regexes.count - start))
                if tables.regexPrefiltered[start...].contains(true) {
                    for (slot, set) in fields.enumerated() { ruleScanFields[slot].formUnion(set) }
                }
                return ConditionNode(op: .regexes, first: Int32(index), count: 0)
            }
        }
    }
}

extension RecordKind {
    /// Whether a rule with `kind` in its `on:` runs on events of slot `slot`.
    static func kind(_ kind: RecordKind, appliesTo slot: Int) -> Bool {
        switch kind {
        case .collection(let glob):
            if slot == RecordKind.collection("*").slot { return true }
            guard let collection = RecordKind.slotKinds[slot].collection else { return false }
            return CollectionGlob.matches(glob, collection)
        default:
            return kind.slot == slot
        }
    }
}
