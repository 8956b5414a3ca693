import ATProto
import Matching

/// The evaluation of one event: condition trees over field values extracted on first use and
/// scanned once by the keyword automaton.
struct Evaluation {
    let set: RuleSet
    let tables: CompiledTables
    let context: RecordContext
    let slot: Int
    let scratch: RuleScratch

    // MARK: Conditions

    /// Whether condition node `node` holds. The first matched text found on the way is left in
    /// `scratch.evidence` (parts that end up not holding take theirs back), so the common case,
    /// nothing matched, moves nothing but booleans.
    func holds(_ node: Int32) throws(RegexFailure) -> Bool {
        let condition = tables.nodes[Int(node)]
        switch condition.op {
        case .any:
            let first = Int(condition.first)
            for child in first..<first + Int(condition.count) {
                if try holds(tables.children[child]) { return true }
            }
            return false
        case .all:
            let hadEvidence = scratch.hasEvidence
            let first = Int(condition.first)
            for child in first..<first + Int(condition.count) {
                guard try holds(tables.children[child]) else {
                    if !hadEvidence { scratch.hasEvidence = false }
                    return false
                }
            }
            return true
        case .not:
            let hadEvidence = scratch.hasEvidence
            let result = try !holds(condition.first)
            if !hadEvidence { scratch.hasEvidence = false }
            return result
        case .rule:
            let index = Int(condition.first)
            guard scratch.hasFired(rule: index) else { return false }
            if !scratch.hasEvidence, let evidence = scratch.ruleEvidence[index] {
                scratch.evidence = evidence
                scratch.hasEvidence = true
            }
            return true
        case .langs:
            return langs(tables.languageCodes[Int(condition.first)])
        case .reasonTypes:
            guard let report = context.report else { return false }
            return tables.reasonTypeSets[Int(condition.first)].contains(report.reasonType)
        case .reporter:
            guard let report = context.report else { return false }
            return tables.reporterConditions[Int(condition.first)].holds(for: report)
        case .keywords:
            let matcher = Int(condition.first)
            return keywords(matcher, fields: tables.fields(ofMatcher: matcher, slot: slot))
        case .regexes:
            let matcher = Int(condition.first)
            return try regexes(matcher, fields: tables.fields(ofMatcher: matcher, slot: slot))
        }
    }

    /// Keeps `evidence` unless an earlier part of the condition already left some.
    private func found(_ evidence: @autoclosure () -> MatchEvidence) {
        guard !scratch.hasEvidence else { return }
        scratch.evidence = evidence()
        scratch.hasEvidence = true
    }

    private func langs(_ codes: [String]) -> Bool {
        let declared = values(.langs)
        for (index, language) in declared.enumerated() {
            let primary = language.split(separator: "-", maxSplits: 1).first.map { $0.lowercased() } ?? ""
            if codes.contains(primary) {
                found(
                    MatchEvidence(
                        field: .langs, valueIndex: index, byteRange: 0..<language.utf8.count, text: language,
                        matcher: "langs \(primary)"))
                return true
            }
        }
        return false
    }

    private func keywords(_ matcher: Int, fields: FieldSet) -> Bool {
        var remaining = fields
        while let field = remaining.popFirst() { scan(field) }
        guard scratch.keywordEpoch[matcher] == scratch.epoch else { return false }
        if !scratch.hasEvidence {
            let hit = scratch.keywordHit[matcher]
            let range = Int(hit.start)..<Int(hit.end)
            let value = values(hit.field)[Int(hit.valueIndex)]
            found(
                MatchEvidence(
                    field: hit.field, valueIndex: Int(hit.valueIndex), byteRange: range,
                    text: Self.text(range, of: value), matcher: "keyword \(String(reflecting: hit.keyword))"))
        }
        return true
    }

    private func regexes(_ matcher: Int, fields: FieldSet) throws(RegexFailure) -> Bool {
        let start = Int(tables.matcherRegexStart[matcher])
        let indices = start..<start + Int(tables.matcherRegexCount[matcher])
        let epoch = scratch.epoch
        var remaining = fields
        while let field = remaining.popFirst() {
            scan(field)
            for index in indices {
                if tables.regexPrefiltered[index] {
                    // Runs only where the automaton saw the regex's literal.
                    guard scratch.literalEpoch[index] == epoch else { continue }
                    var candidates: [Int] = []
                    var node = scratch.literalHead[index]
                    while node >= 0 {
                        let entry = scratch.literalNodes[Int(node)]
                        if entry.field == field { candidates.append(Int(entry.valueIndex)) }
                        node = entry.next
                    }
                    guard !candidates.isEmpty else { continue }
                    let texts = values(field)
                    for valueIndex in candidates.reversed()
                    where try run(tables.regexes[index], on: texts, valueIndex, field) {
                        return true
                    }
                } else {
                    let texts = values(field)
                    let regex = tables.regexes[index]
                    for valueIndex in texts.indices where regex.mayMatch(texts[valueIndex]) {
                        if try run(regex, on: texts, valueIndex, field) { return true }
                    }
                }
            }
        }
        return false
    }

    private func run(
        _ regex: PCRE2Regex, on texts: [String], _ valueIndex: Int, _ field: Field
    ) throws(RegexFailure) -> Bool {
        let text = texts[valueIndex]
        let match: RegexMatch?
        do {
            match = try regex.firstMatch(in: text, using: scratch.matching)
        } catch {
            throw RegexFailure(pattern: regex.pattern, reason: error)
        }
        guard let match else { return false }
        found(
            MatchEvidence(
                field: field, valueIndex: valueIndex, byteRange: match.byteRange,
                text: String(match.substring(in: text)), matcher: "regex \(regex.pattern)"))
        return true
    }

    // MARK: Fields

    /// The values of `field` on this event, extracted once per event.
    func values(_ field: Field) -> [String] {
        let slot = Int(field.rawValue)
        if scratch.fieldEpoch[slot] != scratch.epoch {
            scratch.fieldEpoch[slot] = scratch.epoch
            scratch.fieldValues[slot] = FieldExtraction.values(of: field, in: context, post: &scratch.post)
        }
        return scratch.fieldValues[slot]
    }

    /// Runs the keyword automaton over every value of `field` once per event, recording the first
    /// hit of each keyword matcher and where each regex literal occurs, for matchers that read
    /// `field` on this kind of record.
    func scan(_ field: Field) {
        let fieldSlot = Int(field.rawValue)
        guard scratch.scannedEpoch[fieldSlot] != scratch.epoch else { return }
        scratch.scannedEpoch[fieldSlot] = scratch.epoch
        let epoch = scratch.epoch
        let shape = set.tokens.isEmpty ? nil : field.tokenShape
        for (valueIndex, text) in values(field).enumerated() {
            if let shape {
                for hit in set.tokens.hits(in: text, shape: shape, using: scratch.normalizer) {
                    if case .keyword(let matcher) = hit.tag { record(hit, of: Int(matcher), field, valueIndex) }
                }
            }
            for hit in set.keywords.hits(in: text, using: scratch.normalizer) {
                switch hit.tag {
                case .keyword(let matcher):
                    record(hit, of: Int(matcher), field, valueIndex)
                case .literal(let regex):
                    let r = Int(regex)
                    guard tables.fields(ofMatcher: Int(tables.regexMatcher[r]), slot: slot).contains(field) else {
                        continue
                    }
                    if scratch.literalEpoch[r] != epoch {
                        scratch.literalEpoch[r] = epoch
                        set.gatedByLiteral.forEach(r) { scratch.open(rule: $0) }
                        scratch.literalHead[r] = -1
                    }
                    let head = scratch.literalHead[r]
                    if head >= 0, scratch.literalNodes[Int(head)].field == field,
                        scratch.literalNodes[Int(head)].valueIndex == Int32(valueIndex)
                    {
                        continue
                    }
                    scratch.literalNodes.append(LiteralNode(field: field, valueIndex: Int32(valueIndex), next: head))
                    scratch.literalHead[r] = Int32(scratch.literalNodes.count - 1)
                }
            }
        }
    }

    /// Keeps the first hit of keyword matcher `m` on this event, when it reads `field` here.
    private func record(_ hit: KeywordHit<ScanTag>, of m: Int, _ field: Field, _ valueIndex: Int) {
        guard scratch.keywordEpoch[m] != scratch.epoch, tables.fields(ofMatcher: m, slot: slot).contains(field) else {
            return
        }
        scratch.keywordEpoch[m] = scratch.epoch
        set.gatedByKeywords.forEach(m) { scratch.open(rule: $0) }
        scratch.keywordHit[m] = KeywordHitRecord(
            field: field, valueIndex: Int32(valueIndex), start: Int32(hit.byteRange.lowerBound),
            end: Int32(hit.byteRange.upperBound), keyword: hit.keyword)
    }

    static func text(_ range: Range<Int>, of value: String) -> String {
        let utf8 = value.utf8
        let start = utf8.index(utf8.startIndex, offsetBy: range.lowerBound)
        let end = utf8.index(utf8.startIndex, offsetBy: range.upperBound)
        return String(value[start..<end])
    }

    // MARK: Labels

    /// The label of `info` for this event, on the account or the record as the rule says, or a
    /// failure when the context's text does not make a valid subject (events from the stream
    /// always do: their DID and path were checked when decoded). Negations name the replaced
    /// version's CID.
    func label(
        _ info: RuleInfo, value: String, negating: Bool, expires: String? = nil, evidence: MatchEvidence? = nil
    ) -> Result<LabelEffect, RuleFailure> {
        let subject: LabelSubject
        var cid: String? = nil
        do throws(SyntaxError) {
            switch info.subject {
            case .account:
                subject = .account(try DID(context.did))
            case .record:
                subject = try LabelSubject(context.uri)
                cid = negating ? context.previousCID : context.cid
            }
        } catch {
            return .failure(RuleFailure(ruleID: info.id, uri: context.uri, pattern: nil, reason: error.description))
        }
        return .success(
            LabelEffect(
                ruleID: info.id, value: value, subject: subject, cid: cid, negate: negating, expires: expires,
                evidence: evidence, limits: info.limits))
    }

    func negate(_ info: RuleInfo, into effects: inout Effects) {
        guard let value = info.label else { return }
        switch label(info, value: value, negating: true) {
        case .success(let negation):
            if info.emits(for: context.did) {
                effects.negations.append(negation)
            } else {
                effects.dryRun.append(negation)
            }
        case .failure(let failure):
            effects.failures.append(failure)
        }
    }
}
