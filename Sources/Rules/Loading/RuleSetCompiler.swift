import Matching

/// Turns the rule files of a set into a ``RuleSet``: parses every file, then checks what spans
/// rules (duplicate ids, unknown and cyclic `rule:` references), compiles every regex and keyword,
/// and orders the rules so that each comes after the rules it references. Every problem is
/// collected; any problem means no rule set.
enum RuleSetCompiler {
    static func compile(_ sources: RuleSources, options: RuleSet.LoadOptions) throws(RuleLoadError) -> RuleSet {
        var diagnostics: [RuleDiagnostic] = []
        var definitions: [RuleDefinition] = []
        var listFiles: [String] = []
        for file in sources.ruleFiles {
            var parser = RuleFileParser(source: SourceText(path: file.path, text: file.text), readList: sources.readList)
            definitions += parser.parse()
            diagnostics += parser.diagnostics
            listFiles += parser.listFiles.filter { !listFiles.contains($0) }
        }

        let index = indexIDs(definitions, diagnostics: &diagnostics)
        let references = resolveReferences(definitions, index: index, diagnostics: &diagnostics)
        let order = evaluationOrder(definitions, references: references, diagnostics: &diagnostics)

        var builder = Builder(prefilter: options.regexPrefilter)
        let position = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
        for definitionIndex in order {
            builder.add(definitions[definitionIndex], positions: position, index: index)
        }
        diagnostics += builder.diagnostics
        guard diagnostics.isEmpty else { throw RuleLoadError(diagnostics: diagnostics) }
        return RuleSet(
            compiled: builder.rules, matchers: builder.matchers, regexes: builder.regexes,
            keywords: builder.keywords.build(), files: sources.ruleFiles.map(\.path) + listFiles)
    }

    /// Rule index by id; a repeated id is reported where it repeats.
    private static func indexIDs(_ definitions: [RuleDefinition], diagnostics: inout [RuleDiagnostic]) -> [String: Int] {
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
                        RuleDiagnostic(location, "unknown rule '\(id)' in rule reference" + Suggestion.hint(for: id, in: index.keys.sorted())))
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

    private static func collectReferences(_ condition: ConditionDefinition, into found: inout [(String, SourceLocation)]) {
        switch condition {
        case .any(let children), .all(let children): for child in children { collectReferences(child, into: &found) }
        case .not(let child): collectReferences(child, into: &found)
        case .rule(let id, let location): found.append((id, location))
        case .matcher, .langs: break
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

    /// Compiles rules in evaluation order, collecting matchers, regexes and keywords.
    private struct Builder {
        let prefilter: Bool
        var rules: [CompiledRule] = []
        var matchers: [CompiledMatcher] = []
        var regexes: [CompiledRegex] = []
        var keywords = KeywordSetBuilder<ScanTag>()
        var diagnostics: [RuleDiagnostic] = []

        mutating func add(_ definition: RuleDefinition, positions: [Int: Int], index: [String: Int]) {
            let info = RuleInfo(
                id: definition.id, description: definition.description, kinds: definition.kinds,
                label: definition.label, subject: definition.subject, expiresIn: definition.expiresIn,
                mode: definition.mode, negateOnNoMatch: definition.negateOnNoMatch, threshold: definition.threshold,
                location: definition.idLocation)
            let resolve: (String) -> Int? = { id in index[id].flatMap { positions[$0] } }
            let condition = compile(definition.match, kinds: definition.kinds, resolve: resolve)
            let unless = definition.unless.map { compile($0, kinds: definition.kinds, resolve: resolve) }
            rules.append(CompiledRule(info: info, condition: condition, unless: unless))
        }

        private mutating func compile(
            _ condition: ConditionDefinition, kinds: [RecordKind], resolve: (String) -> Int?
        ) -> CompiledCondition {
            switch condition {
            case .any(let children): return .any(children.map { compile($0, kinds: kinds, resolve: resolve) })
            case .all(let children): return .all(children.map { compile($0, kinds: kinds, resolve: resolve) })
            case .not(let child): return .not(compile(child, kinds: kinds, resolve: resolve))
            case .rule(let id, _): return .rule(resolve(id) ?? -1)
            case .langs(let codes): return .langs(codes)
            case .matcher(let matcher): return .matcher(compile(matcher, kinds: kinds))
            }
        }

        /// Adds the matcher and returns its index.
        private mutating func compile(_ matcher: MatcherDefinition, kinds: [RecordKind]) -> Int {
            let index = matchers.count
            let fieldsBySlot = (0..<RecordKind.slotCount).map { slot -> FieldSet in
                let applying = kinds.filter { RecordKind.kind($0, appliesTo: slot) }
                let available = applying.reduce(FieldSet()) { $0.union($1.fields) }
                let wanted = matcher.fields.map { FieldSet($0) } ?? applying.reduce(FieldSet()) { $0.union($1.defaultFields) }
                return wanted.intersection(available)
            }
            switch matcher.source {
            case .keywords(let entries, let options):
                var keywordOptions = KeywordOptions(mode: options.substring ? .substring : .word)
                if options.leet { keywordOptions.folding.insert(.leet) }
                if options.squeeze { keywordOptions.folding.insert(.squeeze) }
                var seen = Set<String>()
                for entry in entries where seen.insert(entry.text).inserted {
                    do {
                        try keywords.add(entry.text, tag: .keyword(matcher: Int32(index)), options: keywordOptions)
                    } catch {
                        diagnostics.append(RuleDiagnostic(entry.location, "keyword '\(entry.text)' is empty once normalised (only spaces, marks or invisible characters)"))
                    }
                }
                matchers.append(CompiledMatcher(kind: .keywords, fieldsBySlot: fieldsBySlot))
            case .regexes(let entries, let caseInsensitive):
                var indices: [Int] = []
                for entry in entries {
                    do {
                        let regex = try PCRE2Regex(entry.text, options: caseInsensitive ? .caseInsensitive : [])
                        var prefiltered = false
                        if prefilter, let literal = regex.prefilter {
                            // The literal goes through the keyword normaliser like any text, so
                            // "the automaton saw it" is implied by "the text contains it".
                            prefiltered = (try? keywords.add(
                                literal.text, tag: .literal(regex: Int32(regexes.count)), options: .substring)) != nil
                        }
                        indices.append(regexes.count)
                        regexes.append(CompiledRegex(regex: regex, matcher: index, prefiltered: prefiltered))
                    } catch {
                        diagnostics.append(
                            RuleDiagnostic(entry.position(error.scalarOffset), "invalid regex: \(error.message)"))
                    }
                }
                matchers.append(CompiledMatcher(kind: .regexes(indices), fieldsBySlot: fieldsBySlot))
            }
            return index
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
