import ATProto
import Testing

@testable import Rules

/// any, all, not, unless, rule references, langs filters, keyword options.
@Suite struct ConditionTests {
    @Test func anyAllNot() throws {
        let set = try TestSupport.rules(
            """
            rules:
              - id: any
                on: [post]
                label: any
                match: {any: [{keywords: [apple]}, {regex: 'pear\\d'}]}
              - id: all
                on: [post]
                label: all
                match: {all: [{keywords: [apple]}, {regex: 'pear\\d'}]}
              - id: not
                on: [post]
                label: not
                match: {all: [{keywords: [apple]}, {not: {keywords: [pear1]}}]}
            """)
        #expect(TestSupport.labels(set, TestSupport.post("apple")) == ["any", "not"])
        #expect(TestSupport.labels(set, TestSupport.post("pear1")) == ["any"])
        #expect(TestSupport.labels(set, TestSupport.post("apple pear1")) == ["all", "any"])
        #expect(TestSupport.labels(set, TestSupport.post("banana")) == [])
    }

    @Test func unlessVetoesAMatch() throws {
        let set = try TestSupport.rules(
            """
            rules:
              - id: scam
                on: [post]
                label: spam
                match: {keywords: [guaranteed returns]}
                unless: {any: [{keywords: [scam alert]}, {langs: [de]}]}
            """)
        #expect(TestSupport.labels(set, TestSupport.post("guaranteed returns!")) == ["spam"])
        #expect(TestSupport.labels(set, TestSupport.post("SCAM ALERT: guaranteed returns")) == [])
        #expect(TestSupport.labels(set, TestSupport.post("guaranteed returns", langs: ["de-AT"])) == [])
        // The evidence is the match's, not the unless's.
        let effects = set.evaluate(TestSupport.post("x guaranteed returns"), using: RuleScratch())
        #expect(effects.labels.first?.evidence?.text == "guaranteed returns")
    }

    @Test func ruleReferencesSeeRulesThatFiredOnThisRecordOnly() throws {
        // Written in reverse order: evaluation follows references, not the file.
        let set = try TestSupport.rules(
            """
            rules:
              - id: both
                on: [post]
                label: both
                match: {all: [{rule: crypto}, {rule: urgency}]}
              - id: urgency
                on: [post]
                match: {keywords: [act now, last chance]}
              - id: crypto
                on: [post]
                match: {keywords: [btc, eth]}
              - id: no-crypto
                on: [post]
                label: no-crypto
                match: {all: [{rule: urgency}, {not: {rule: crypto}}]}
            """)
        #expect(set.rules.map(\.id).firstIndex(of: "crypto")! < set.rules.map(\.id).firstIndex(of: "both")!)
        let scratch = RuleScratch()
        let both = set.evaluate(TestSupport.post("send BTC, act now"), using: scratch)
        #expect(both.labels.map(\.value) == ["both"])
        #expect(both.fired.map(\.ruleID).sorted() == ["both", "crypto", "urgency"])
        #expect(both.labels.first?.evidence?.text == "BTC")
        // The same scratch on the next record: nothing carries over.
        let urgentOnly = set.evaluate(TestSupport.post("last chance"), using: scratch)
        #expect(urgentOnly.labels.map(\.value) == ["no-crypto"])
        #expect(set.evaluate(TestSupport.post("hello"), using: scratch).fired.isEmpty)
    }

    @Test func langsFilterMatchesPrimarySubtags() throws {
        let set = try TestSupport.rules(
            """
            rules:
              - id: pt-spam
                on: [post]
                label: spam
                match: {all: [{langs: [pt, EN]}, {keywords: [grátis]}]}
            """)
        #expect(TestSupport.labels(set, TestSupport.post("frete gratis", langs: ["pt-BR"])) == ["spam"])
        #expect(TestSupport.labels(set, TestSupport.post("gratis", langs: ["en"])) == ["spam"])
        #expect(TestSupport.labels(set, TestSupport.post("gratis", langs: ["es"])) == [])
        #expect(TestSupport.labels(set, TestSupport.post("gratis")) == [])
    }

    @Test func keywordOptions() throws {
        let set = try TestSupport.rules(
            """
            rules:
              - {id: word, on: [post], label: word, match: {keywords: [scam]}}
              - {id: substring, on: [post], label: substring, match: {keywords: [scam], mode: substring}}
              - {id: leet, on: [post], label: leet, match: {keywords: [free money], leet: true}}
              - {id: squeeze, on: [post], label: squeeze, match: {keywords: [win], squeeze: true}}
            """)
        #expect(TestSupport.labels(set, TestSupport.post("a SCAM!")) == ["substring", "word"])
        #expect(TestSupport.labels(set, TestSupport.post("scampi")) == ["substring"])
        #expect(TestSupport.labels(set, TestSupport.post("fr33 m0n3y")) == ["leet"])
        #expect(TestSupport.labels(set, TestSupport.post("ＦＲＥＥ ｍｏｎｅｙ")) == ["leet"])
        #expect(TestSupport.labels(set, TestSupport.post("WIIIIIN")) == ["squeeze"])
    }

    @Test func keywordListFiles() throws {
        let set = try TestSupport.rules(
            "rules:\n  - {id: list, on: [post], label: listed, match: {keywords: {file: lists/words.txt}}}\n",
            lists: ["rules/lists/words.txt": "# words\n\n  alpha  \nbeta gamma\n#delta\n"])
        #expect(set.keywordCount == 2)
        #expect(set.files == ["rules/test.yaml", "rules/lists/words.txt"])
        #expect(TestSupport.labels(set, TestSupport.post("so beta  gamma")) == ["listed"])
        #expect(TestSupport.labels(set, TestSupport.post("delta")) == [])
    }

    @Test func regexListFilesAndCaseInsensitivity() throws {
        let set = try TestSupport.rules(
            """
            rules:
              - {id: list, on: [post], label: listed, match: {regex: {file: p.txt}}}
              - {id: ci, on: [post], label: ci, match: {regex: 'hello\\s+world', case_insensitive: true}}
            """,
            lists: ["rules/p.txt": "^abc\\d+\nxyz$\n"])
        #expect(TestSupport.labels(set, TestSupport.post("abc12")) == ["listed"])
        #expect(TestSupport.labels(set, TestSupport.post("the xyz")) == ["listed"])
        #expect(TestSupport.labels(set, TestSupport.post("ABC12")) == [])
        #expect(TestSupport.labels(set, TestSupport.post("HELLO   World")) == ["ci"])
    }

    @Test func evidenceOfRegexMatches() throws {
        let set = try TestSupport.rules("rules:\n  - {id: r, on: [post], label: r, match: {regex: 'é+x'}}\n")
        let effects = set.evaluate(TestSupport.post("ab éééx cd"), using: RuleScratch())
        let evidence = try #require(effects.labels.first?.evidence)
        #expect(evidence.field == .text)
        #expect(evidence.text == "éééx")
        #expect(evidence.byteRange == 3..<10)
        #expect(evidence.matcher == "regex é+x")
    }
}
