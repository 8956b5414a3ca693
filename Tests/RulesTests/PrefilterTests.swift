import ATProto
import Testing

@testable import Rules

/// Regexes skipped by the literal prefilter and rules skipped by their gates must never change a
/// result: the same rules give the same effects with and without the prefilter.
@Suite struct PrefilterTests {
    static let patterns = [
        #"free[-\s]?crypto[-\s]?giveaway"#, #"\bclaim\s+your\s+\w+"#, #"(?:airdrop|presale|whitelist)\s+(?:now|live)"#,
        #"\b(?:Straße|strasse)\b"#, #"ＦＲＥＥ"#, #"k\w+n"#, #"\d{3}-\d{4}"#, #"(\S)\1{5,}"#, #"bit\.ly/\w+"#,
        #"café|cafe"#, #"(?i)MiXeD"#, #"x(?:ab|cd)?y"#, #"(?:one|two)+three"#, #"\bé+\b"#, #"it's"#,
    ]
    static let words = [
        "free", "crypto", "giveaway", "FREE-CRYPTO-giveaway", "claim", "your", "token", "airdrop", "presale", "now",
        "LIVE", "Straße", "strasse", "ＦＲＥＥ", "kitten", "KELVIN", "555-1234", "aaaaaa", "bit.ly/xyz", "café", "cafe",
        "mixed", "xy", "xaby", "onetwothree", "éé", "it's", "ſ", "K", "\u{200B}", "  ", "-", "🎉",
    ]

    @Test func prefilteredAndUnfilteredEnginesAgree() throws {
        var yaml = "rules:\n"
        for (index, pattern) in Self.patterns.enumerated() {
            let quoted = pattern.replacingOccurrences(of: "'", with: "''")
            let letter = String(UnicodeScalar(UInt8(97 + index)))
            yaml += "  - {id: r\(index), on: [post], label: l-\(letter), match: {regex: '\(quoted)'}}\n"
            yaml +=
                "  - {id: c\(index), on: [post], label: c-\(letter), match: {regex: '\(quoted)', case_insensitive: true}}\n"
        }
        let sources = RuleSources(ruleFiles: [RuleSources.File(path: "p.yaml", text: yaml)])
        let filtered = try RuleSet.load(sources)
        let unfiltered = try RuleSet.load(sources, options: RuleSet.LoadOptions(regexPrefilter: false))
        #expect(filtered.tables.regexPrefiltered.contains(true))
        var random = SystemRandomNumberGenerator()
        let scratchA = RuleScratch()
        let scratchB = RuleScratch()
        for _ in 0..<3_000 {
            let count = Int.random(in: 1...6, using: &random)
            let separators = [" ", "", "  ", "\n", "-"]
            let text = (0..<count).map { _ in Self.words.randomElement(using: &random)! }
                .joined(separator: separators.randomElement(using: &random)!)
            let a = filtered.evaluate(TestSupport.post(text), using: scratchA).labels.map(\.value).sorted()
            let b = unfiltered.evaluate(TestSupport.post(text), using: scratchB).labels.map(\.value).sorted()
            #expect(a == b, "\(String(reflecting: text))")
        }
    }

    @Test func alternationLiterals() {
        #expect(
            AlternationLiterals.extract(from: #"\b(?:airdrop|give\-away|pre sale)\s+now"#) == [
                "airdrop", "give-away", "pre sale",
            ])
        #expect(AlternationLiterals.extract(from: "(spam|scam)+ link") == ["spam", "scam"])
        #expect(AlternationLiterals.extract(from: "[(|)](?:ab|cd)") == ["ab", "cd"])
        #expect(AlternationLiterals.extract(from: "(?:ab|cd)?x") == nil)  // optional group
        #expect(AlternationLiterals.extract(from: "(?:ab|cd)*x") == nil)
        #expect(AlternationLiterals.extract(from: "(?:ab|cd){0,2}x") == nil)
        #expect(AlternationLiterals.extract(from: "ab|cd") == nil)  // top-level alternation
        #expect(AlternationLiterals.extract(from: #"(?:a\d|cd)"#) == nil)  // not a literal
        #expect(AlternationLiterals.extract(from: "(?:ab|)") == nil)  // empty alternative
        #expect(AlternationLiterals.extract(from: "(?=ab|cd)x") == nil)  // lookahead
        #expect(AlternationLiterals.extract(from: "(?:a(b|c)|d)") == nil)  // nested group
        #expect(AlternationLiterals.extract(from: "(?x)(?:ab|cd)") == nil)
        #expect(AlternationLiterals.extract(from: "(?:(?:ab|cd))") == nil)
    }

    @Test func gatedRulesStillNegateOnUpdates() throws {
        let set = try TestSupport.rules(
            "rules:\n  - {id: g, on: [post], label: g, on_no_match: negate, match: {keywords: [x]}}\n")
        let effects = set.evaluate(TestSupport.post("nothing", action: .update), using: RuleScratch())
        #expect(effects.negations.map(\.value) == ["g"])
    }
}
