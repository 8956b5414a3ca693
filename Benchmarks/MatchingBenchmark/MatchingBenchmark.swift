import Matching
import SeededRandom

/// Matching costs per text, on synthetic posts (about 300 bytes, mixed languages and emoji).
/// Build with `-c release` and pin to one core (`taskset -c 0`) for stable figures.
///
///   keywords   normalise + scan with 10 / 1 000 / 10 000 keywords (and normalise alone)
///   regex      simple JIT patterns, and the required-literal prefilter on texts that mostly
///              lack the literal, with and without the prefilter
///   limits     time for a catastrophic pattern to fail on the match limit
///
/// Usage: matching-bench [--posts N] [--rounds R]
@main
struct MatchingBenchmark {
    static func main() throws {
        var args = Array(CommandLine.arguments.dropFirst())
        var postCount = 1_000
        var rounds = 5
        while !args.isEmpty {
            switch args.removeFirst() {
            case "--posts": postCount = Int(args.removeFirst()) ?? postCount
            case "--rounds": rounds = Int(args.removeFirst()) ?? rounds
            default: break
            }
        }
        var random = SplitMix64(seed: 42)
        let posts = (0..<postCount).map { _ in SyntheticText.post(using: &random) }
        let bytes = posts.reduce(0) { $0 + $1.utf8.count }
        print("posts: \(posts.count), average \(bytes / posts.count) bytes; best of \(rounds) rounds")
        print("PCRE2 \(PCRE2Regex.libraryVersion), JIT \(PCRE2Regex.jitAvailable)")

        try keywords(posts, rounds: rounds, random: &random)
        try regexes(posts, rounds: rounds)
        try limits(rounds: rounds)
    }

    // MARK: Keywords

    static func keywords(_ posts: [String], rounds: Int, random: inout SplitMix64) throws {
        print("\n== keywords: normalise + one pass per folding variant ==")
        let normalizer = TextNormalizer()
        let normaliseOnly = measure(posts, rounds: rounds) { normalizer.normalize($0).text.utf8.count }
        print(row("normalise, copied out as NormalizedText", normaliseOnly))
        var single = KeywordSetBuilder<Int>()
        try single.add("zzyzx", tag: 0)
        let one = single.build()
        let oneKeyword = measure(posts, rounds: rounds) { one.hits(in: $0, using: normalizer).count }
        print(row("normalise + scan, 1 keyword", oneKeyword))
        let ascii = posts.map { String($0.unicodeScalars.filter(\.isASCII)) }
        let asciiOnly = measure(ascii, rounds: rounds) { one.hits(in: $0, using: normalizer).count }
        print(row("  same, ASCII-only posts", asciiOnly))
        for count in [10, 1_000, 10_000] {
            for mixed in [false, true] {
                var builder = KeywordSetBuilder<Int>()
                var added = 0
                let start = ContinuousClock.now
                while added < count {
                    let keyword =
                        added < SyntheticText.plantedKeywords.count
                        ? SyntheticText.plantedKeywords[added] : SyntheticText.keyword(using: &random)
                    var options = KeywordOptions(mode: added % 5 == 4 ? .substring : .word)
                    if mixed {
                        options.folding = [[], [], .leet, .squeeze, [.leet, .squeeze]][added % 5]
                    }
                    try builder.add(keyword, tag: added, options: options)
                    added += 1
                }
                let set = builder.build()
                let buildTime = ContinuousClock.now - start
                var hitCount = 0
                let perText = measure(posts, rounds: rounds) { post in
                    let hits = set.hits(in: post, using: normalizer).count
                    hitCount = hits
                    return hits
                }
                _ = hitCount
                let label = "\(count) keywords, \(mixed ? "4 variants" : "plain     ")"
                let size = "build \(ms(buildTime)), \(set.stateCount) states, \(set.automatonBytes / 1024) KiB"
                print(row(label, perText) + "   " + size)
            }
        }
    }

    // MARK: Regex

    static func regexes(_ posts: [String], rounds: Int) throws {
        print("\n== regex (JIT), one scratch ==")
        let scratch = MatchScratch()
        let simple = try PCRE2Regex(#"\bcrypto\b"#, options: .caseInsensitive)
        let simpleTime = measure(posts, rounds: rounds) { try! simple.hasMatch(in: $0, using: scratch) ? 1 : 0 }
        print(row("simple: \\bcrypto\\b caseless", simpleTime))
        let classes = try PCRE2Regex(#"\p{Lu}{3,}\s+\d+"#)
        let classesTime = measure(posts, rounds: rounds) { try! classes.hasMatch(in: $0, using: scratch) ? 1 : 0 }
        print(row("classes: \\p{Lu}{3,}\\s+\\d+", classesTime))

        print("\n== required-literal prefilter (texts mostly lack the literal) ==")
        let patterns: [(String, RegexOptions)] = [
            (#"free[-\s]?crypto[-\s]?giveaway"#, .caseInsensitive),
            (#"(?:claim|get)\s+your\s+\w+\s+airdrop"#, .caseInsensitive),
            (#"\w+@\w+\.example"#, []),
            (#"[\p{L}\d]+\s+giveaway"#, []),
        ]
        for (pattern, options) in patterns {
            let regex = try PCRE2Regex(pattern, options: options)
            let literal = regex.requiredLiteral.map { "\"\($0)\"" } ?? "none"
            let matching = posts.filter { (try? regex.hasMatch(in: $0, using: scratch)) == true }.count
            print("  \(pattern)   literal \(literal), matches \(matching)/\(posts.count)")
            let without = measure(posts, rounds: rounds) { try! regex.hasMatch(in: $0, using: scratch) ? 1 : 0 }
            let with = measure(posts, rounds: rounds) {
                regex.mayMatch($0) && (try! regex.hasMatch(in: $0, using: scratch)) ? 1 : 0
            }
            let filterOnly = measure(posts, rounds: rounds) { regex.mayMatch($0) ? 1 : 0 }
            print(row("    regex alone", without))
            print(row("    prefilter, then regex", with))
            print(row("    prefilter alone", filterOnly))
        }
    }

    // MARK: Limits

    static func limits(rounds: Int) throws {
        print("\n== catastrophic patterns: time to fail (default limits) ==")
        let scratch = MatchScratch()
        let cases: [(String, String)] = [
            ("(a+)+$", String(repeating: "a", count: 40) + "b"),
            (#"(\w+\s?)+$"#, String(repeating: "word ", count: 60) + "!"),
            ("(x+x+)+y", String(repeating: "x", count: 300) + "zy"),
        ]
        for (pattern, text) in cases {
            let regex = try PCRE2Regex(pattern)
            var best = Duration.seconds(1_000)
            var outcome = ""
            for _ in 0..<rounds {
                let start = ContinuousClock.now
                do {
                    _ = try regex.hasMatch(in: text, using: scratch)
                    outcome = "matched or no match"
                } catch {
                    outcome = "\(error)"
                }
                best = min(best, ContinuousClock.now - start)
            }
            print("  \(pattern) on \(text.utf8.count) bytes: \(ms(best)) → \(outcome)")
        }
    }

    // MARK: Measuring

    /// Best over `rounds` of the mean time per text.
    static func measure(_ posts: [String], rounds: Int, _ body: (String) -> Int) -> Double {
        var best = Double.infinity
        var sink = 0
        for post in posts.prefix(50) { sink &+= body(post) }  // warm caches
        for _ in 0..<rounds {
            let start = ContinuousClock.now
            for post in posts { sink &+= body(post) }
            let elapsed = ContinuousClock.now - start
            best = min(best, nanoseconds(elapsed) / Double(posts.count))
        }
        if sink == Int.min { print(sink) }
        return best
    }

    static func nanoseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1e9 + Double(duration.components.attoseconds) / 1e9
    }

    static func ms(_ duration: Duration) -> String {
        let value = nanoseconds(duration) / 1e6
        return value < 1 ? "\(Int(value * 1000)) µs" : "\(Int(value.rounded())) ms"
    }

    static func row(_ label: String, _ nsPerText: Double) -> String {
        let padded = label.count < 42 ? label + String(repeating: " ", count: 42 - label.count) : label
        return "  \(padded) \(Int(nsPerText.rounded())) ns/text"
    }
}

/// Deterministic synthetic posts: English most of the time, with Spanish, French, German,
/// Russian and Japanese, emoji, hashtags, links, numbers, occasional fullwidth or accented
/// spam phrases, about 300 bytes each.
enum SyntheticText {
    static let english = """
        the a to of and in is it you that for on with this my just so but be have not are was all \
        like at what if can get your out about today people time good new really love one think \
        know would day more now post see here back still want thread bluesky art photo music game \
        news city coffee weekend morning work friends free money crypto link click win stream
        """.split(separator: " ").map(String.init)
    static let others = [
        "qué", "también", "canción", "mañana", "niño", "très", "déjà", "garçon", "crème", "où",
        "straße", "schön", "größer", "über", "привет", "сегодня", "хорошо", "спасибо", "москва",
        "今日は", "ありがとう", "天気", "写真", "ゲーム", "東京", "美味しい",
    ]
    static let emoji = ["🎉", "🔥", "😂", "❤️", "👍🏽", "🙏", "✨", "🇯🇵", "👨‍👩‍👧", "🥲"]
    static let planted = [
        "free crypto giveaway", "ＦＲＥＥ ｍｏｎｅｙ", "раураl", "cl1ck h3re", "claim your token airdrop", "WIIIN",
    ]
    /// Keywords every set starts with, so the posts really contain some of them.
    static let plantedKeywords = [
        "giveaway", "free money", "paypal", "click here", "airdrop", "win", "crypto", "東京", "спасибо", "niño",
    ]

    static func post(using random: inout SplitMix64) -> String {
        var words: [String] = []
        var length = 0
        while length < 280 {
            let roll = Int.random(in: 0..<100, using: &random)
            let word: String
            switch roll {
            case 0..<70: word = english.randomElement(using: &random)!
            case 70..<85: word = others.randomElement(using: &random)!
            case 85..<92: word = emoji.randomElement(using: &random)!
            case 92..<95: word = "#" + english.randomElement(using: &random)!
            case 95..<97: word = "https://example.com/\(Int.random(in: 0..<10_000, using: &random))"
            case 97..<99: word = String(Int.random(in: 0..<3_000, using: &random))
            default: word = planted.randomElement(using: &random)!
            }
            words.append(Bool.random(using: &random) && roll < 70 ? word.capitalized : word)
            length += word.utf8.count + 1
        }
        return words.joined(separator: " ")
    }

    /// A pronounceable made-up keyword of one or two words.
    static func keyword(using random: inout SplitMix64) -> String {
        let syllables = [
            "ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "xa", "ven", "dor", "qui", "zel", "bra", "sho",
        ]
        func word() -> String {
            (0..<Int.random(in: 2...4, using: &random)).map { _ in syllables.randomElement(using: &random)! }.joined()
        }
        return Int.random(in: 0..<4, using: &random) == 0 ? word() + " " + word() : word()
    }
}

extension String {
    fileprivate var capitalized: String { prefix(1).uppercased() + dropFirst() }
}
