import ATProto
import Testing

@testable import Rules

/// Keyword lists on token fields (domains, tags, handle, langs) are matched as exact tokens:
/// whole values, parent domains, language prefixes.
@Suite struct TokenListTests {
    static func linkPost(_ uris: [String]) -> RecordContext {
        let facets: [CBORValue] = uris.map { uri in
            .map([
                "index": .map(["byteStart": 0, "byteEnd": 1]),
                "features": .array([.map(["$type": "app.bsky.richtext.facet#link", "uri": .text(CBORText(uri))])]),
            ])
        }
        return TestSupport.post("x", extra: [("facets", .array(facets))])
    }

    static func tagPost(_ tags: [String]) -> RecordContext {
        TestSupport.post("x", extra: [("tags", .array(tags.map { .text(CBORText($0)) }))])
    }

    let domains: RuleSet

    init() throws {
        domains = try TestSupport.rules(
            """
            rules:
              - {id: listed, on: [post], label: listed, match: {keywords: {file: lists/hosts.txt}, in: [domains]}}
            """,
            lists: ["rules/lists/hosts.txt": "# shorteners\nBIT.LY\n  evil.example  \nbit.ly\n"])
    }

    @Test func listedDomainsAreASet() {
        #expect(domains.keywordCount == 2)  // `bit.ly` twice is one entry
        #expect(domains.tokens.count == 2)
        #expect(domains.summary.contains("2 keywords (2 as exact tokens)"))
    }

    @Test func exactHostAndParentDomains() {
        #expect(TestSupport.labels(domains, Self.linkPost(["https://bit.ly/x"])) == ["listed"])
        #expect(TestSupport.labels(domains, Self.linkPost(["https://X.Bit.Ly/x"])) == ["listed"])
        #expect(TestSupport.labels(domains, Self.linkPost(["https://a.b.evil.example:8443/"])) == ["listed"])
    }

    @Test func noFalseParentMatch() {
        #expect(TestSupport.labels(domains, Self.linkPost(["https://notbit.ly/x"])).isEmpty)
        // The automaton in word mode matched this (`.` is not a word character); as a domain it is
        // a host under `example`, not under `bit.ly`.
        #expect(TestSupport.labels(domains, Self.linkPost(["https://bit.ly.example/x"])).isEmpty)
        #expect(TestSupport.labels(domains, Self.linkPost(["https://ly/x"])).isEmpty)
    }

    @Test func evidenceNamesTheValueAndTheMatchedPart() throws {
        let effects = domains.evaluate(
            Self.linkPost(["https://safe.example/", "https://www.BIT.ly/abc"]), using: RuleScratch())
        let evidence = try #require(effects.labels.first?.evidence)
        #expect(evidence.field == .domains)
        #expect(evidence.valueIndex == 1)
        #expect(evidence.byteRange == 4..<10)
        #expect(evidence.text == "bit.ly")  // hosts are lowercased when extracted
        #expect(evidence.matcher == #"keyword "BIT.LY""#)
    }

    @Test func hashtagsAreWholeTokens() throws {
        let set = try TestSupport.rules(
            "rules:\n  - {id: t, on: [post], label: tagged, match: {keywords: [crypto, Free Money], in: [tags]}}")
        #expect(set.tokens.count == 2)
        #expect(TestSupport.labels(set, Self.tagPost(["CRYPTO"])) == ["tagged"])
        #expect(TestSupport.labels(set, Self.tagPost(["free money"])) == ["tagged"])
        // The automaton's word mode matched these; a hashtag is one token.
        #expect(TestSupport.labels(set, Self.tagPost(["crypto-scam"])).isEmpty)
        #expect(TestSupport.labels(set, Self.tagPost(["free money now"])).isEmpty)
        #expect(TestSupport.labels(set, Self.tagPost(["cryptoscam"])).isEmpty)
    }

    @Test func handlesMatchTheirParentDomains() throws {
        let set = try TestSupport.rules(
            "rules:\n  - {id: h, on: [handle], label: listed-handle, match: {keywords: [spam.example]}}")
        #expect(set.tokens.count == 1)
        func labels(_ handle: String) -> [String] {
            set.evaluate(.identity(did: TestSupport.did, handle: handle, time: 0), using: RuleScratch()).labels
                .map(\.value)
        }
        #expect(labels("spam.example") == ["listed-handle"])
        #expect(labels("alice.SPAM.example") == ["listed-handle"])
        #expect(labels("notspam.example").isEmpty)
    }

    @Test func languageCodesMatchByPrefix() throws {
        let set = try TestSupport.rules(
            "rules:\n  - {id: l, on: [post], label: pt, match: {keywords: [PT], in: [langs]}}")
        #expect(TestSupport.labels(set, TestSupport.post("oi", langs: ["pt-BR"])) == ["pt"])
        #expect(TestSupport.labels(set, TestSupport.post("oi", langs: ["pt"])) == ["pt"])
        #expect(TestSupport.labels(set, TestSupport.post("oi", langs: ["ptx"])).isEmpty)
    }

    @Test func leetAndSqueezeApplyToEntriesAndValues() throws {
        let set = try TestSupport.rules(
            "rules:\n  - {id: t, on: [post], label: t, match: {keywords: [free], in: [tags], leet: true, squeeze: true}}"
        )
        #expect(TestSupport.labels(set, Self.tagPost(["FR333"])) == ["t"])
        #expect(TestSupport.labels(set, Self.tagPost(["freedom"])).isEmpty)
    }

    @Test func substringModeAndFreeTextFieldsKeepTheAutomaton() throws {
        let set = try TestSupport.rules(
            """
            rules:
              - {id: sub, on: [post], label: sub, match: {keywords: [bit], mode: substring, in: [domains]}}
              - {id: mixed, on: [post], label: mixed, match: {keywords: [bit.ly], in: [text, domains]}}
            """)
        #expect(set.tokens.isEmpty)
        #expect(TestSupport.labels(set, Self.linkPost(["https://orbit.example/"])) == ["sub"])
        // Word mode over text and domains alike: `bit.ly` stands as words in `bit.ly.example`.
        #expect(TestSupport.labels(set, Self.linkPost(["https://bit.ly.example/"])) == ["mixed", "sub"])
    }

    @Test func emptyEntriesAreReportedWithTheirLine() {
        let problems = TestSupport.problems(
            ["rules/a.yaml": "rules:\n  - {id: a, on: [post], label: a, match: {keywords: {file: l.txt}, in: [tags]}}"],
            lists: ["rules/l.txt": "ok\n  \u{200B}\n"])
        #expect(
            problems == [
                "rules/l.txt:2:3: keyword '\u{200B}' is empty once normalised (only spaces, marks or invisible characters)"
            ])
    }

    @Test func aHundredThousandDomainsLoadAndMatch() throws {
        let hosts = (0..<100_000).map { "host\($0).example" }
        let set = try TestSupport.rules(
            "rules:\n  - {id: big, on: [post], label: big, match: {keywords: {file: big.txt}, in: [domains]}}",
            lists: ["rules/big.txt": hosts.joined(separator: "\n")])
        #expect(set.keywordCount == 100_000)
        #expect(TestSupport.labels(set, Self.linkPost(["https://cdn.host99999.example/x"])) == ["big"])
        #expect(TestSupport.labels(set, Self.linkPost(["https://host0.example"])) == ["big"])
        #expect(TestSupport.labels(set, Self.linkPost(["https://host100000.example"])).isEmpty)
    }
}
