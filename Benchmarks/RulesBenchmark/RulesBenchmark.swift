import ATProto
import Matching
import Rules
import SeededRandom

/// Rule engine cost per post, on generated rule sets and posts. Build with `-c release` and pin to
/// one core (`taskset -c 0`) for stable figures.
///
///   engine     10 000 keywords + 500 regexes over N posts: posts/s and median µs per post
///   naive      the same keywords and regexes, each searched on every post (on a sample):
///              a byte search per keyword, every regex run
///   prefilter  the engine with each regex checking its own literal instead of the automaton
///   scaling    keyword-only sets of 100 and 10 000 keywords, both in 100 rules
///   lists      one rule over a list of 10 000, 100 000 and 1 000 000 domains or phrases: compile
///              time against Python reading the file into a set, peak RSS, µs per post
///              (see ``ListBenchmark``); `--smoke` runs only this, with 1 000 and 10 000 entries
///
/// Usage: rules-bench [--posts N] [--naive-posts N] [--rounds R] [--list-sizes N,N,…] [--keep-lists DIR] [--smoke]
///                    [--only engine|prefilter|naive|regex|scaling|lists]
@main
struct RulesBenchmark {
    static func main() throws {
        var args = Array(CommandLine.arguments.dropFirst())
        var postCount = 100_000
        var naiveCount = 1_000
        var rounds = 3
        var only: String?
        var listSizes = [10_000, 100_000, 1_000_000]
        var listPosts = 20_000
        var keepLists: String?
        if args.first == "--reload-child", args.count == 3, let kind = ListBenchmark.Kind(rawValue: args[2]) {
            try ListBenchmark.reloadChild(directory: args[1], kind: kind)
            return
        }
        if args.first == "--list-child", args.count == 4, let kind = ListBenchmark.Kind(rawValue: args[2]) {
            try ListBenchmark.child(directory: args[1], kind: kind, posts: Int(args[3]) ?? listPosts)
            return
        }
        while !args.isEmpty {
            switch args.removeFirst() {
            case "--keep-lists": keepLists = args.removeFirst()
            case "--list-sizes": listSizes = args.removeFirst().split(separator: ",").compactMap { Int($0) }
            case "--smoke":
                only = "lists"
                listSizes = [1_000, 10_000]
                listPosts = 2_000
            case "--posts": postCount = Int(args.removeFirst()) ?? postCount
            case "--naive-posts": naiveCount = Int(args.removeFirst()) ?? naiveCount
            case "--rounds": rounds = Int(args.removeFirst()) ?? rounds
            case "--only": only = args.removeFirst()
            default: break
            }
        }

        if only == "lists" {
            try ListBenchmark.run(sizes: listSizes, posts: listPosts, executable: "/proc/self/exe", keep: keepLists)
            return
        }

        var random = SplitMix64(seed: 7)
        let generator = RuleSetGenerator(random: &random)
        let texts = (0..<postCount).map { _ in PostGenerator.text(plantingFrom: generator, using: &random) }
        let contexts = texts.enumerated().map { PostGenerator.context(text: $1, index: $0, using: &random) }
        let bytes = texts.reduce(0) { $0 + $1.utf8.count }
        print(
            "posts: \(texts.count), average \(bytes / texts.count) bytes; "
                + "PCRE2 \(PCRE2Regex.libraryVersion), JIT \(PCRE2Regex.jitAvailable)"
        )
        func runs(_ section: String) -> Bool { only == nil || only == section }

        var engineMedian: Double?
        if runs("engine") {
            print("\n== engine: 10 000 keywords + 500 regexes ==")
            let full = try timedLoad("rule set", generator.sources(keywordCount: 10_000, regexCount: 500))
            let engine = measureEngine(full, contexts, rounds: rounds)
            engineMedian = engine.median
            print(engine.line("engine"))
            let hits = countEffects(full, contexts)
            print("  \(hits.labels) labels over \(contexts.count) posts")
        }
        if runs("prefilter") {
            let perRegex = try timedLoad(
                "rule set, each regex checking its own literal",
                generator.sources(keywordCount: 10_000, regexCount: 500),
                options: RuleSet.LoadOptions(regexPrefilter: false))
            print(measureEngine(perRegex, contexts, rounds: rounds).line("engine, literal checked per regex"))
        }

        if runs("naive") {
            print("\n== naive loop over the same keywords and regexes ==")
            let sample = Array(texts.prefix(naiveCount))
            let naive = NaiveMatcher(keywords: generator.keywords(10_000), regexes: try generator.compiledRegexes(500))
            let naiveTime = measureNaive(naive, sample)
            print(naiveTime.line("naive (\(sample.count) posts)"))
            if let engineMedian {
                print(
                    String(
                        format: "  engine speed-up over naive (median per post): %.0f×", naiveTime.median / engineMedian
                    ))
            }
        }

        if runs("regex") {
            print("\n== regexes alone (no keywords) ==")
            let regexOnly = try timedLoad("500 regexes", generator.sources(keywordCount: 0, regexCount: 500))
            print(measureEngine(regexOnly, contexts, rounds: rounds).line("500 regexes"))
            let literalFree = try timedLoad("the literal-free regexes", generator.literalFreeSources())
            print(measureEngine(literalFree, contexts, rounds: rounds).line("literal-free regexes only"))
        }

        if runs("scaling") {
            print("\n== keyword cost by number of keywords (no regexes) ==")
            for count in [100, 10_000] {
                let set = try timedLoad("\(count) keywords", generator.sources(keywordCount: count, regexCount: 0))
                print(measureEngine(set, contexts, rounds: rounds).line("\(count) keywords"))
            }
        }
        if runs("lists") {
            try ListBenchmark.run(sizes: listSizes, posts: listPosts, executable: "/proc/self/exe", keep: keepLists)
        }
    }

    static func timedLoad(
        _ label: String, _ sources: RuleSources, options: RuleSet.LoadOptions = RuleSet.LoadOptions()
    ) throws -> RuleSet {
        let start = ContinuousClock.now
        let set = try RuleSet.load(sources, options: options)
        print("\nload \(label): \(set.summary), \(format(ContinuousClock.now - start))")
        return set
    }

    struct Figures {
        var postsPerSecond: Double
        /// Median microseconds per post.
        var median: Double

        func line(_ label: String) -> String {
            let padded = label.count < 36 ? label + String(repeating: " ", count: 36 - label.count) : label
            return "  \(padded) " + String(format: "%10.0f posts/s   median %7.2f µs/post", postsPerSecond, median)
        }
    }

    /// Best-of-rounds throughput; the median of per-post times over the last round.
    static func measureEngine(_ set: RuleSet, _ contexts: [RecordContext], rounds: Int) -> Figures {
        let scratch = RuleScratch()
        var sink = 0
        for context in contexts.prefix(1_000) { sink &+= set.evaluate(context, using: scratch).labels.count }
        var best = Double.infinity
        var samples = [Double](repeating: 0, count: contexts.count)
        for _ in 0..<rounds {
            let start = ContinuousClock.now
            for (index, context) in contexts.enumerated() {
                let before = ContinuousClock.now
                sink &+= set.evaluate(context, using: scratch).labels.count
                samples[index] = seconds(ContinuousClock.now - before)
            }
            best = min(best, seconds(ContinuousClock.now - start))
        }
        if sink == -1 { print(sink) }
        return Figures(postsPerSecond: Double(contexts.count) / best, median: median(samples) * 1e6)
    }

    static func countEffects(_ set: RuleSet, _ contexts: [RecordContext]) -> (labels: Int, fired: Int) {
        let scratch = RuleScratch()
        var labels = 0
        var fired = 0
        for context in contexts {
            let effects = set.evaluate(context, using: scratch)
            labels += effects.labels.count
            fired += effects.fired.count
        }
        return (labels, fired)
    }

    static func measureNaive(_ naive: NaiveMatcher, _ texts: [String]) -> Figures {
        var sink = 0
        var samples: [Double] = []
        let start = ContinuousClock.now
        for text in texts {
            let before = ContinuousClock.now
            sink &+= naive.matches(in: text)
            samples.append(seconds(ContinuousClock.now - before))
        }
        let total = seconds(ContinuousClock.now - start)
        if sink == -1 { print(sink) }
        return Figures(postsPerSecond: Double(texts.count) / total, median: median(samples) * 1e6)
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func format(_ duration: Duration) -> String {
        let ms = seconds(duration) * 1000
        return ms < 1 ? String(format: "%.0f µs", ms * 1000) : String(format: "%.0f ms", ms)
    }
}

/// The baseline: lowercase the text once, search its bytes for every keyword (first byte, then
/// the rest), run every regex on it.
struct NaiveMatcher {
    let keywords: [[UInt8]]
    let regexes: [PCRE2Regex]
    let scratch = MatchScratch()

    init(keywords: [String], regexes: [PCRE2Regex]) {
        self.keywords = keywords.map { Array($0.lowercased().utf8) }
        self.regexes = regexes
    }

    func matches(in text: String) -> Int {
        let lowered = Array(text.lowercased().utf8)
        var count = 0
        for keyword in keywords where Self.contains(lowered, keyword) { count += 1 }
        for regex in regexes where (try? regex.hasMatch(in: text, using: scratch)) == true { count += 1 }
        return count
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return needle.isEmpty }
        let first = needle[0]
        var start = 0
        while start <= haystack.count - needle.count {
            if haystack[start] == first {
                var offset = 1
                while offset < needle.count, haystack[start + offset] == needle[offset] { offset += 1 }
                if offset == needle.count { return true }
            }
            start += 1
        }
        return false
    }
}
