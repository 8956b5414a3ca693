import SeededRandom
import Testing

@testable import Matching

@Suite struct RequiredLiteralTests {
    @Test(arguments: [
        (#"free[-\s]?crypto\s+giveaway"#, "giveaway"),
        ("(spam|scam) link", " link"),
        ("(optional)?word", "word"),
        ("colou?r", "colo"),
        ("ab+c", "ab"),
        ("x{0,3}yz", "yz"),
        ("x{2}yz", "yz"),
        ("(?:abc)+de", "abc"),
        ("(?=lookahead)real", "real"),
        ("(?!never)real", "real"),
        (#"\Qa.b*c\E"#, "a.b*c"),
        (#"\bhttps?://"#, "http"),
        (#"[abc]+def"#, "def"),
        (#"a\d+bcd"#, "bcd"),
        (#"price: \$\d+"#, "price: $"),
        (#"(?<name>in)outer"#, "outer"),
        (#"(?<name>longest)out"#, "longest"),
        ("éclair?", "éclai"),
        (#"\x41bc"#, "bc"),
        (#"\p{L}+ing"#, "ing"),
        ("a(?:b|c)d", "a"),
        (#"[\]x]yz"#, "yz"),
        ("[[:alpha:]]+tail", "tail"),
    ])
    func caseSensitiveExtraction(pattern: String, expected: String) throws {
        let literal = try #require(RequiredLiteral.extract(from: pattern))
        #expect(literal.text == expected)
        #expect(!literal.caseInsensitive)
    }

    @Test(arguments: [
        "spam|scam",  // alternation at the top
        "(optional)?",  // only an optional group
        "a*b?c{0,2}",  // every literal optional
        "(?=only)",  // only a lookahead
        "^$",
        #"\d+\s*"#,
        "ab{,2}",  // a brace form this reader does not model
        "(?#comment)abc",  // comments: given up on
        "(*UCP)abc",  // verbs: given up on
        "(?x) a b",  // extended mode changes what is literal
        "(?(1)a|b)",  // conditionals
    ])
    func noLiteral(pattern: String) {
        #expect(RequiredLiteral.extract(from: pattern) == nil)
    }

    @Test func extendedOptionGivesUp() {
        #expect(RequiredLiteral.extract(from: "abc def", options: .extended) == nil)
    }

    @Test func caseInsensitiveLiterals() throws {
        let literal = try #require(RequiredLiteral.extract(from: "Free Crypto", options: .caseInsensitive))
        #expect(literal.text == "free crypto")
        #expect(literal.caseInsensitive)
        #expect(literal.occurs(in: "get FREE CRYPTO now"))
        #expect(literal.occurs(in: "fReE cRyPtO"))
        #expect(!literal.occurs(in: "free  crypto"))

        // `k` and `s` have non-ASCII caseless twins (Kelvin sign, long s); non-ASCII letters too.
        #expect(RequiredLiteral.extract(from: "Kiss me", options: .caseInsensitive)?.text == " me")
        #expect(RequiredLiteral.extract(from: "crème brûlée", options: .caseInsensitive)?.text == "me br")

        // Inline (?i) anywhere makes the whole literal caseless (more permissive, never wrong).
        let inline = try #require(RequiredLiteral.extract(from: "ABC(?i)def"))
        #expect(inline.caseInsensitive)
        #expect(inline.text == "abc")
        #expect(inline.occurs(in: "xxabcxx"))
    }

    @Test func caseSensitiveSearch() throws {
        let literal = try #require(RequiredLiteral.extract(from: "brûlée?"))
        #expect(literal.text == "brûlé")
        #expect(literal.occurs(in: "crème brûlée"))
        #expect(!literal.occurs(in: "BRÛLÉE"))
        #expect(!literal.occurs(in: ""))
        #expect(!literal.occurs(in: "brû"))
    }

    /// Soundness on random patterns built from pieces: whenever PCRE2 finds a match, the literal
    /// occurs in the text.
    @Test func neverRejectsAText() {
        var random = SplitMix64(seed: 7)
        let pieces = [
            "ab", "c", "(d|e)", "f?", "[gh]", "(?:ij)+", "k*", #"\d"#, "(?i)", "LM", "n{2}", ".", "(o)?", "p+",
        ]
        let alphabet = Array("abcdefghijklmnopLMIJ0123 ")
        let scratch = MatchScratch()
        for _ in 0..<300 {
            let pieceCount = Int.random(in: 1...5, using: &random)
            let pattern = (0..<pieceCount).map { _ in pieces.randomElement(using: &random)! }.joined()
            guard let regex = try? PCRE2Regex(pattern) else { continue }
            for _ in 0..<30 {
                let length = Int.random(in: 0...12, using: &random)
                let text = String((0..<length).map { _ in alphabet.randomElement(using: &random)! })
                if (try? regex.hasMatch(in: text, using: scratch)) == true {
                    #expect(regex.mayMatch(text), "pattern \(pattern) text \(text)")
                }
            }
        }
    }
}
