import ATProto
import Yams

/// Reads rule test files (`DIR/tests/*.yaml`):
///
/// ```yaml
/// cases:
///   - name: giveaway phrase
///     text: "FREE crypto giveaway, claim now"    # a post with this text (optional langs: [en])
///     expect: [spam]
///   - name: impersonating display name
///     collection: app.bsky.actor.profile
///     record: {displayName: "Bluesky Support"}    # a YAML mapping, or a JSON object as a string
///     expect: [impersonation]
///   - name: handle
///     handle: bsky-support.example.com
///     expect: none
///   - name: a report (rules on report)
///     report: {reason_type: spam, reason: "scam link", subject: "did:plc:…", muted: false, dismissed: 0}
///     expect: [needs-review]
///     expect_escalate: true
/// ```
///
/// Optional per case: `did`, `rkey`, `action` (create, update, delete), `counts` (earlier matches
/// per threshold rule; for report rules, other reporters), `expect_log`, `expect_negate`,
/// `expect_escalate`.
public enum RuleTestSuite {
    /// The default account of test cases.
    public static let defaultDID = "did:plc:ruletestaccount00000000000"
    /// The time every case is evaluated at: 2025-01-01T00:00:00Z, so `exp` values are stable.
    public static let time: Int64 = 1_735_689_600_000_000

    static let caseKeys = [
        "name", "text", "langs", "collection", "record", "handle", "report", "did", "rkey", "action", "counts",
        "expect", "expect_log", "expect_negate", "expect_escalate",
    ]
    static let reportKeys = ["reason_type", "reason", "subject", "muted", "dismissed"]

    /// Every case of every `*.yaml` file in `directory/tests`.
    /// - Parameter required: whether having no test file (or no `tests` folder) is a problem; it is
    ///   not when there are labeled samples to run instead.
    /// - Throws: ``RuleLoadError`` with every problem in the test files.
    public static func load(directory: String, required: Bool = true) throws(RuleLoadError) -> [RuleTestCase] {
        let root = directory.hasSuffix("/") && directory.count > 1 ? String(directory.dropLast()) : directory
        let folder = root + "/tests"
        let paths: [String]
        do {
            paths = try RuleSources.yamlFiles(under: folder)
        } catch ListFileError.notFound where !required {
            return []
        } catch {
            throw RuleLoadError(diagnostics: [
                RuleDiagnostic(
                    SourceLocation(file: folder, line: 1, column: 1), "cannot read the test folder: \(error)")
            ])
        }
        var files: [RuleSources.File] = []
        var diagnostics: [RuleDiagnostic] = []
        for path in paths {
            do {
                files.append(RuleSources.File(path: path, text: try RuleSources.readUTF8(path)))
            } catch {
                diagnostics.append(RuleDiagnostic(SourceLocation(file: path, line: 1, column: 1), error.description))
            }
        }
        if files.isEmpty, diagnostics.isEmpty, required {
            diagnostics.append(
                RuleDiagnostic(SourceLocation(file: folder, line: 1, column: 1), "no test files (*.yaml)"))
        }
        guard diagnostics.isEmpty else { throw RuleLoadError(diagnostics: diagnostics) }
        return try load(files: files)
    }

    /// The cases of test files given in memory.
    public static func load(files: [RuleSources.File]) throws(RuleLoadError) -> [RuleTestCase] {
        var cases: [RuleTestCase] = []
        var diagnostics: [RuleDiagnostic] = []
        for file in files {
            var reader = YAMLReader(source: SourceText(path: file.path, text: file.text))
            if let root = reader.compose(), let top = reader.entries(of: root, in: "a test file", allowed: ["cases"]) {
                if let list = top["cases"]?.sequence {
                    for node in list { if let testCase = parseCase(node, reader: &reader) { cases.append(testCase) } }
                } else {
                    reader.error(root, "a test file needs a 'cases' list")
                }
            }
            diagnostics += reader.diagnostics
        }
        guard diagnostics.isEmpty else { throw RuleLoadError(diagnostics: diagnostics) }
        return cases
    }

    private static func parseCase(_ node: Node, reader: inout YAMLReader) -> RuleTestCase? {
        guard let entries = reader.entries(of: node, in: "a test case", allowed: caseKeys) else { return nil }
        let start = reader.diagnostics.count
        let name =
            entries["name"].flatMap { reader.string($0, "name") } ?? "case at line \(reader.location(of: node).line)"
        let did = entries["did"].flatMap { reader.string($0, "did") } ?? defaultDID
        let rkey = entries["rkey"].flatMap { reader.string($0, "rkey") } ?? "3ltestrecord22"
        // Labels name the account and the record: both must be what a stream could carry.
        if let didNode = entries["did"], !DID.isValid(did) { reader.error(didNode, "'\(did)' is not a valid DID") }
        if let rkeyNode = entries["rkey"], !RecordKey.isValid(rkey) {
            reader.error(rkeyNode, "'\(rkey)' is not a valid record key")
        }
        var action = RecordContext.Action.create
        if let actionNode = entries["action"], let text = reader.string(actionNode, "action") {
            if let value = RecordContext.Action(rawValue: text) {
                action = value
            } else {
                reader.error(actionNode, "invalid action '\(text)': use create, update or delete")
            }
        }

        var context: RecordContext?
        let sources = ["text", "record", "handle", "report"].filter { entries.contains($0) }
        if sources.count > 1 {
            reader.error(
                node,
                "a test case takes one of text, record, handle or report, not " + sources.joined(separator: " and "))
        } else if let reportNode = entries["report"] {
            context = parseReport(reportNode, did: did, rkey: rkey, reader: &reader)
        } else if let handleNode = entries["handle"], let handle = reader.string(handleNode, "handle") {
            context = .identity(did: did, handle: handle, time: time)
        } else if let textNode = entries["text"], let text = reader.string(textNode, "text") {
            var record: [(String, CBORValue)] = [
                ("$type", .text(CBORText(Collections.post))), ("text", .text(CBORText(text))),
                ("createdAt", "2025-01-01T00:00:00.000Z"),
            ]
            if let langsNode = entries["langs"], let langs = reader.strings(langsNode, "langs") {
                record.append(("langs", .array(langs.map { .text(CBORText($0.0)) })))
            }
            context = RecordContext(
                did: did, collection: Collections.post, rkey: rkey, action: action, cid: testCID,
                previousCID: action == .create ? nil : previousTestCID,
                record: action == .delete ? nil : .map(CBORMap(record)), time: time)
        } else if entries.contains("record") || action == .delete {
            guard let collectionNode = entries["collection"],
                let collection = reader.string(collectionNode, "collection")
            else {
                reader.error(node, "a test case with 'record' needs 'collection' (an NSID such as app.bsky.feed.post)")
                return nil
            }
            if !NSID.isValid(collection) { reader.error(collectionNode, "'\(collection)' is not a valid NSID") }
            var record: CBORValue?
            if let recordNode = entries["record"] {
                record = parseRecord(recordNode, reader: &reader)
            }
            context = RecordContext(
                did: did, collection: collection, rkey: rkey, action: action, cid: action == .delete ? nil : testCID,
                previousCID: action == .create ? nil : previousTestCID, record: record, time: time)
        } else {
            reader.error(node, "a test case needs text, record (with collection), handle or report")
        }
        if entries.contains("langs"), !entries.contains("text") {
            reader.error(
                entries.keyNode("langs")!, "langs goes with the text shorthand; put it in the record otherwise")
        }

        var counts: [String: Int] = [:]
        if let countsNode = entries["counts"], let mapping = countsNode.mapping {
            for (key, value) in mapping {
                if let rule = key.scalar?.string, let count = reader.int(value, "count") { counts[rule] = count }
            }
        } else if let countsNode = entries["counts"] {
            reader.error(countsNode, "counts must be a mapping of rule id to earlier matches")
        }

        guard let expectNode = entries["expect"] else {
            reader.error(node, "test case '\(name)' needs 'expect' (label values, or none)")
            return nil
        }
        let expect = labels(expectNode, "expect", reader: &reader)
        let expectLog = entries["expect_log"].flatMap { labels($0, "expect_log", reader: &reader) }
        let expectNegate = entries["expect_negate"].flatMap { labels($0, "expect_negate", reader: &reader) }
        var expectEscalate: Bool?
        if let escalateNode = entries["expect_escalate"] {
            expectEscalate = reader.bool(escalateNode, "expect_escalate")
            if context?.report == nil { reader.error(escalateNode, "expect_escalate goes with a report case") }
        }
        guard reader.diagnostics.count == start, let context, let expect else { return nil }
        return RuleTestCase(
            name: name, location: reader.location(of: node), context: context, counts: counts, expect: expect,
            expectLog: expectLog, expectNegate: expectNegate, expectEscalate: expectEscalate)
    }

    /// `report: {reason_type, reason, subject, muted, dismissed}`: a report filed by a test
    /// reporter. `reason_type` is a full reason type or a short name (`spam`); `subject` a DID or
    /// an at:// URI, by default the case's record (`did` and `rkey`, a post).
    private static func parseReport(_ node: Node, did: String, rkey: String, reader: inout YAMLReader)
        -> RecordContext?
    {
        guard let entries = reader.entries(of: node, in: "report", allowed: reportKeys) else { return nil }
        var reasonType = "com.atproto.moderation.defs#reasonOther"
        if let typeNode = entries["reason_type"], let text = reader.string(typeNode, "reason_type") {
            let wanted = text.lowercased()
            if let known = ReportReasonType.all.first(where: {
                $0 == text || ReportReasonType.shortName(of: $0) == wanted
            }) {
                reasonType = known
            } else {
                reader.error(typeNode, "unknown reason type '\(text)': use a short name such as spam, or a full one")
            }
        }
        let reason = entries["reason"].flatMap { reader.string($0, "reason") } ?? ""
        var subject = "at://" + did + "/" + Collections.post + "/" + rkey
        if let subjectNode = entries["subject"], let text = reader.string(subjectNode, "subject") {
            if (try? LabelSubject(text)) == nil {
                reader.error(subjectNode, "'\(text)' is not a DID or an at:// record URI")
            }
            subject = text
        }
        let muted = entries["muted"].flatMap { reader.bool($0, "muted") } ?? false
        let dismissed = entries["dismissed"].flatMap { reader.int($0, "dismissed") } ?? 0
        let facts = ReportFacts(
            id: 1, reasonType: reasonType, reason: reason, reporter: "did:plc:ruletestreporter0000000000",
            reporterMuted: muted, reporterDismissed: dismissed)
        return .report(facts, subject: subject, cid: subject.hasPrefix("at://") ? testCID : nil, time: time)
    }

    private static func parseRecord(_ node: Node, reader: inout YAMLReader) -> CBORValue? {
        if let json = node.scalar?.string {
            do {
                return try DataModelJSON.parseObject(json)
            } catch {
                reader.error(node, "record is not a JSON object: \(error)")
                return nil
            }
        }
        guard node.mapping != nil else {
            reader.error(node, "record must be a mapping or a JSON object")
            return nil
        }
        do {
            return try YAMLRecord.value(node)
        } catch {
            reader.error(at: reader.source.location(of: error.mark), error.message)
            return nil
        }
    }

    /// `[a, b]`, `[]` or `none`.
    private static func labels(_ node: Node, _ what: String, reader: inout YAMLReader) -> [String]? {
        if let scalar = node.scalar, scalar.string == "none" || scalar.string.isEmpty { return [] }
        return reader.strings(node, what)?.map(\.0)
    }

    static let testCID = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"
    static let previousTestCID = "bafyreihf5qcpkzaaxxbsgqutbc43wbe5g6xxoqlzv7lhjbqrd3eiadfqvy"
}
