import ATProto
import Matching

/// The evaluation of one event: condition trees over lazily extracted and scanned fields.
struct Evaluation {
    let set: RuleSet
    let context: RecordContext
    let slot: Int
    let scratch: RuleScratch

    // MARK: Conditions

    func evaluate(_ condition: CompiledCondition) throws(RegexFailure) -> ConditionResult {
        switch condition {
        case .any(let children):
            for child in children {
                let result = try evaluate(child)
                if result.holds { return result }
            }
            return .no
        case .all(let children):
            var evidence: MatchEvidence?
            for child in children {
                let result = try evaluate(child)
                guard result.holds else { return .no }
                evidence = evidence ?? result.evidence
            }
            return ConditionResult(holds: true, evidence: evidence)
        case .not(let child):
            return ConditionResult(holds: try !evaluate(child).holds, evidence: nil)
        case .rule(let index):
            guard scratch.ruleEpoch[index] == scratch.epoch, scratch.ruleFired[index] else { return .no }
            return ConditionResult(holds: true, evidence: scratch.ruleEvidence[index])
        case .langs(let codes):
            return langs(codes)
        case .matcher(let index):
            let matcher = set.matchers[index]
            switch matcher.kind {
            case .keywords: return keywords(index, fields: matcher.fieldsBySlot[slot])
            case .regexes(let regexes): return try self.regexes(regexes, fields: matcher.fieldsBySlot[slot])
            }
        }
    }

    private func langs(_ codes: [String]) -> ConditionResult {
        let declared = values(.langs)
        for (index, language) in declared.enumerated() {
            let primary = language.split(separator: "-", maxSplits: 1).first.map { $0.lowercased() } ?? ""
            if codes.contains(primary) {
                return ConditionResult(
                    holds: true,
                    evidence: MatchEvidence(
                        field: .langs, valueIndex: index, byteRange: 0..<language.utf8.count, text: language,
                        matcher: "langs \(primary)"))
            }
        }
        return .no
    }

    private func keywords(_ matcher: Int, fields: FieldSet) -> ConditionResult {
        for field in fields.members { scan(field) }
        guard scratch.keywordEpoch[matcher] == scratch.epoch else { return .no }
        let hit = scratch.keywordHit[matcher]
        let range = Int(hit.start)..<Int(hit.end)
        let value = values(hit.field)[Int(hit.valueIndex)]
        return ConditionResult(
            holds: true,
            evidence: MatchEvidence(
                field: hit.field, valueIndex: Int(hit.valueIndex), byteRange: range, text: Self.text(range, of: value),
                matcher: "keyword \(String(reflecting: hit.keyword))"))
    }

    private func regexes(_ indices: [Int], fields: FieldSet) throws(RegexFailure) -> ConditionResult {
        for field in fields.members {
            let texts = values(field)
            guard !texts.isEmpty else { continue }
            for index in indices {
                let compiled = set.regexes[index]
                if compiled.prefiltered {
                    scan(field)
                    guard scratch.literalEpoch[index] == scratch.epoch else { continue }
                    var candidates: [Int] = []
                    var node = scratch.literalHead[index]
                    while node >= 0 {
                        let entry = scratch.literalNodes[Int(node)]
                        if entry.field == field { candidates.append(Int(entry.valueIndex)) }
                        node = entry.next
                    }
                    for valueIndex in candidates.reversed() {
                        if let result = try run(compiled.regex, on: texts, valueIndex, field) { return result }
                    }
                } else {
                    for valueIndex in texts.indices where compiled.regex.mayMatch(texts[valueIndex]) {
                        if let result = try run(compiled.regex, on: texts, valueIndex, field) { return result }
                    }
                }
            }
        }
        return .no
    }

    private func run(
        _ regex: PCRE2Regex, on texts: [String], _ valueIndex: Int, _ field: Field
    ) throws(RegexFailure) -> ConditionResult? {
        let text = texts[valueIndex]
        let match: RegexMatch?
        do {
            match = try regex.firstMatch(in: text, using: scratch.matching)
        } catch {
            throw RegexFailure(pattern: regex.pattern, reason: error)
        }
        guard let match else { return nil }
        return ConditionResult(
            holds: true,
            evidence: MatchEvidence(
                field: field, valueIndex: valueIndex, byteRange: match.byteRange,
                text: String(match.substring(in: text)), matcher: "regex \(regex.pattern)"))
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
    private func scan(_ field: Field) {
        let fieldSlot = Int(field.rawValue)
        guard scratch.scannedEpoch[fieldSlot] != scratch.epoch else { return }
        scratch.scannedEpoch[fieldSlot] = scratch.epoch
        let epoch = scratch.epoch
        for (valueIndex, text) in values(field).enumerated() {
            for hit in set.keywords.hits(in: text, using: scratch.normalizer) {
                switch hit.tag {
                case .keyword(let matcher):
                    let m = Int(matcher)
                    guard scratch.keywordEpoch[m] != epoch, set.matchers[m].fieldsBySlot[slot].contains(field) else {
                        continue
                    }
                    scratch.keywordEpoch[m] = epoch
                    scratch.keywordHit[m] = KeywordHitRecord(
                        field: field, valueIndex: Int32(valueIndex), start: Int32(hit.byteRange.lowerBound),
                        end: Int32(hit.byteRange.upperBound), keyword: hit.keyword)
                case .literal(let regex):
                    let r = Int(regex)
                    guard set.matchers[set.regexes[r].matcher].fieldsBySlot[slot].contains(field) else { continue }
                    if scratch.literalEpoch[r] != epoch {
                        scratch.literalEpoch[r] = epoch
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

    static func text(_ range: Range<Int>, of value: String) -> String {
        let utf8 = value.utf8
        let start = utf8.index(utf8.startIndex, offsetBy: range.lowerBound)
        let end = utf8.index(utf8.startIndex, offsetBy: range.upperBound)
        return String(value[start..<end])
    }

    // MARK: Labels

    /// The label subject of `info` for this event; negations name the replaced version's CID.
    func subject(of info: RuleInfo, negating: Bool) -> LabelSubject {
        switch info.subject {
        case .account: LabelSubject(uri: context.did)
        case .record: LabelSubject(uri: context.uri, cid: negating ? context.previousCID : context.cid)
        }
    }

    func negate(_ info: RuleInfo, into effects: inout Effects) {
        guard let value = info.label else { return }
        let negation = LabelEffect(ruleID: info.id, value: value, subject: subject(of: info, negating: true), negate: true)
        if info.mode == .log { effects.dryRun.append(negation) } else { effects.negations.append(negation) }
    }
}
