import ATProto
import Matching
import Rules
import SeededRandom

/// Generated rule files: keyword rules of 100 made-up keywords each (a fifth with leet, a fifth in
/// substring mode), and regex rules of two patterns each, shaped like moderation regexes (most
/// with a literal word, a few without any).
struct RuleSetGenerator {
    private let keywordPool: [String]
    private let regexPool: [String]
    /// A text each regex matches.
    private let regexSamples: [String]

    init(random: inout SplitMix64) {
        var seen = Set<String>()
        var keywords: [String] = []
        while keywords.count < 10_000 {
            let word = Self.word(using: &random)
            let keyword = Int.random(in: 0..<4, using: &random) == 0 ? word + " " + Self.word(using: &random) : word
            if seen.insert(keyword).inserted { keywords.append(keyword) }
        }
        keywordPool = keywords
        // 1 % of the regexes have no literal every match contains (phone numbers, runs of one
        // character, word alternations), so they run on every post; the others contain a word.
        let literalFree: [(String, String)] = [
            (#"(?<![\w+])(?:\+1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?!\w)"#, "+1 555-201-3344"),
            (#"(\S)\1{11,}"#, "zzzzzzzzzzzzzzz"),
            (#"\b(?:kalomi|venzel|dorsu|brasho|quita)\s+(?:coin|token)s?\b"#, "venzel coins"),
            (#"\d{3}[-.]\d{2}[-.]\d{4}"#, "123.45.6789"),
            (#"[\w.+-]+\s*\[at\]\s*[\w-]+\s*\[dot\]\s*\w+"#, "someone [at] example [dot] com"),
        ]
        var regexes: [(pattern: String, sample: String)] = []
        for index in 0..<500 {
            let a = Self.word(using: &random)
            let b = Self.word(using: &random)
            if index % 100 == 0 {
                regexes.append(literalFree[index / 100 % literalFree.count])
                continue
            }
            switch index % 5 {
            case 0: regexes.append((#"\b\#(a)[-_\s]?\#(b)\b"#, a + "-" + b))
            case 1: regexes.append((#"\b\#(a)\s+\w+\s+\#(b)"#, a + " the " + b))
            case 2: regexes.append((#"(?:https?://)?\#(a)\.\#(b)\.(?:com|net|xyz)"#, a + "." + b + ".com"))
            case 3: regexes.append((#"\b\#(a)\d{2,}\b"#, a + "42"))
            default: regexes.append((#"\#(a)(?:ing|ed|s)?\s+(?:the\s+)?\#(b)"#, a + "ing the " + b))
            }
        }
        regexPool = regexes.map(\.pattern)
        regexSamples = regexes.map(\.sample)
    }

    func keywords(_ count: Int) -> [String] { Array(keywordPool.prefix(count)) }

    func compiledRegexes(_ count: Int) throws -> [PCRE2Regex] {
        try regexPool.prefix(count).map { try PCRE2Regex($0, options: .caseInsensitive) }
    }

    /// A keyword or regex match to plant in a post now and then.
    func plant(using random: inout SplitMix64) -> String {
        if Bool.random(using: &random) { return keywordPool[Int.random(in: 0..<keywordPool.count, using: &random)] }
        return regexSamples[Int.random(in: 0..<regexSamples.count, using: &random)]
    }

    /// Only the regexes without a required literal, one rule each.
    func literalFreeSources() -> RuleSources {
        var yaml = "rules:\n"
        for (rule, pattern) in stride(from: 0, to: regexPool.count, by: 100).map({ regexPool[$0] }).enumerated() {
            yaml += "  - id: free-\(rule)\n    on: [post]\n    label: lf-\(Self.letters(rule))\n"
            yaml += "    match:\n      regex: '\(pattern)'\n      case_insensitive: true\n"
        }
        return RuleSources(ruleFiles: [RuleSources.File(path: "literal-free.yaml", text: yaml)])
    }

    /// `keywordCount` keywords in 100 rules (fewer when there are fewer keywords), a fifth of the
    /// rules with `leet`, a fifth in substring mode; and `regexCount` regexes, two per rule.
    func sources(keywordCount: Int, regexCount: Int) -> RuleSources {
        var yaml = "rules:\n"
        let rules = min(100, keywordCount)
        for rule in 0..<rules {
            let keywords = keywordPool[(rule * keywordCount / rules)..<((rule + 1) * keywordCount / rules)]
            yaml += "  - id: keywords-\(rule)\n    on: [post]\n    label: kw-\(Self.letters(rule))\n"
            yaml += "    match:\n      keywords: [" + keywords.map { "\"\($0)\"" }.joined(separator: ", ") + "]\n"
            yaml += "      in: [text, alt]\n"
            if rule % 5 == 1 { yaml += "      leet: true\n" }
            if rule % 5 == 2 { yaml += "      mode: substring\n" }
        }
        for (rule, chunk) in stride(from: 0, to: regexCount, by: 2).enumerated() {
            yaml +=
                "  - id: regex-\(rule)\n    on: [post]\n    label: re-\(Self.letters(rule))\n    match:\n      any:\n"
            for pattern in regexPool[chunk..<min(chunk + 2, regexCount)] {
                yaml += "        - regex: '\(pattern)'\n          case_insensitive: true\n"
            }
        }
        return RuleSources(ruleFiles: [RuleSources.File(path: "generated.yaml", text: yaml)])
    }

    /// A made-up word of 2–4 syllables.
    static func word(using random: inout SplitMix64) -> String {
        let syllables = [
            "ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "xa", "ven", "dor", "qui", "zel", "bra", "sho", "gu",
        ]
        return (0..<Int.random(in: 2...4, using: &random)).map { _ in syllables.randomElement(using: &random)! }
            .joined()
    }

    /// `n` written with letters only (label values allow no digits).
    static func letters(_ n: Int) -> String {
        var n = n
        var out = ""
        repeat {
            out.append(Character(Unicode.Scalar(UInt8(97 + n % 26))))
            n /= 26
        } while n > 0
        return out
    }
}

/// Post texts like the network's: mostly English words, some other languages, emoji, hashtags,
/// links, numbers, and now and then a planted keyword or regex match; 40–300 bytes.
enum PostGenerator {
    static let english = """
        the a to of and in is it you that for on with this my just so but be have not are was all like at \
        what if can get your out about today people time good new really love one think know would day more \
        now post see here back still want thread art photo music game news city coffee weekend morning work \
        friends free money crypto link click win stream dog cat book movie tonight happy
        """.split(separator: " ").map(String.init)
    static let other = [
        "qué", "también", "mañana", "niño", "très", "déjà", "garçon", "straße", "schön", "über", "привет",
        "сегодня", "спасибо", "今日は", "ありがとう", "写真", "東京",
    ]
    static let emoji = ["🎉", "🔥", "😂", "❤️", "👍🏽", "🙏", "✨", "🥲"]

    static func text(plantingFrom rules: RuleSetGenerator, using random: inout SplitMix64) -> String {
        let target = Int.random(in: 40...300, using: &random)
        var words: [String] = []
        var length = 0
        while length < target {
            let word: String
            switch Int.random(in: 0..<1000, using: &random) {
            case 0..<720: word = english.randomElement(using: &random)!
            case 720..<850: word = other.randomElement(using: &random)!
            case 850..<920: word = emoji.randomElement(using: &random)!
            case 920..<950: word = "#" + english.randomElement(using: &random)!
            case 950..<970: word = "https://example.com/p/\(Int.random(in: 0..<100_000, using: &random))"
            case 970..<995: word = String(Int.random(in: 0..<5_000, using: &random))
            default: word = rules.plant(using: &random)
            }
            words.append(word)
            length += word.utf8.count + 1
        }
        return words.joined(separator: " ")
    }

    static func context(text: String, index: Int, using random: inout SplitMix64) -> RecordContext {
        let record: CBORValue = .map([
            "$type": "app.bsky.feed.post", "text": .text(CBORText(text)), "createdAt": "2025-01-01T00:00:00.000Z",
            "langs": Bool.random(using: &random) ? ["en"] : ["pt"],
        ])
        return RecordContext(
            did: "did:plc:bench\(index % 5_000)", collection: Collections.post, rkey: "3lbench\(index)",
            action: .create,
            cid: "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm", record: record,
            time: 1_735_689_600_000_000 + Int64(index) * 1_000)
    }
}
