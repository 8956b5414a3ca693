import ATProto
import Matching
import Rules

/// Rule engine cost per post, on generated rule sets and posts. Build with `-c release` and pin to
/// one core (`taskset -c 0`) for stable figures.
///
///   engine     10 000 keywords + 500 regexes over N posts: posts/s and median µs per post
///   naive      the same keywords and regexes, each searched on every post (on a sample)
///   prefilter  the engine with regex literals checked per regex instead of in the automaton
///   scaling    keyword-only sets of 100 and 10 000 keywords
///
/// Usage: rules-bench [--posts N] [--naive-posts N] [--rounds R]
@main
struct RulesBenchmark {
    static func main() throws {
        var args = Array(CommandLine.arguments.dropFirst())
        var postCount = 100_000
        var naiveCount = 1_000
        var rounds = 3
        while !args.isEmpty {
            switch args.removeFirst() {
            case "--posts": postCount = Int(args.removeFirst()) ?? postCount
            case "--naive-posts": naiveCount = Int(args.removeFirst()) ?? naiveCount
            case "--rounds": rounds = Int(args.removeFirst()) ?? rounds
            default: break
            }
        }

        var random = SplitMix64(seed: 7)
        let generator = RuleSetGenerator(random: &random)
        let texts = (0..<postCount).map { _ in PostGenerator.text(plantingFrom: generator, using: &random) }
        let contexts = texts.enumerated().map { PostGenerator.context(text: $1, index: $0, using: &random) }
        let bytes = texts.reduce(0) { $0 + $1.utf8.count }
        print("posts: \(texts.count), average \(bytes / texts.count) bytes; PCRE2 \(PCRE2Regex.libraryVersion), JIT \(PCRE2Regex.jitAvailable)")

        let full = try timedLoad("10 000 keywords + 500 regexes", generator.sources(keywordCount: 10_000, regexCount: 500))
        let engine = measureEngine(full, contexts, rounds: rounds)
        print(engine.line("engine"))
        let hits = countEffects(full, contexts)
        print("  labels \(hits.labels), rules fired \(hits.fired) over \(contexts.count) posts")

        let noPrefilter = try timedLoad(
            "same, literal prefilter per regex", generator.sources(keywordCount: 10_000, regexCount: 500),
            options: RuleSet.LoadOptions(regexPrefilter: false))
        print(measureEngine(noPrefilter, contexts, rounds: rounds).line("engine, literal checked per regex"))

        let sample = Array(texts.prefix(naiveCount))
        let naive = NaiveMatcher(keywords: generator.keywords(10_000), regexes: try generator.compiledRegexes(500))
        let naiveTime = measureNaive(naive, sample)
        print(naiveTime.line("naive (\(sample.count) posts)"))
        print(String(format: "  engine speed-up over naive: %.0f×", naiveTime.median / engine.median))

        print("\n== keyword cost by number of keywords (no regexes) ==")
        for count in [100, 10_000] {
            let set = try timedLoad("\(count) keywords", generator.sources(keywordCount: count, regexCount: 0))
            print(measureEngine(set, contexts, rounds: rounds).line("\(count) keywords"))
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
        var labels = 0, fired = 0
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

/// The baseline: lowercase the text once, search it for every keyword, run every regex.
struct NaiveMatcher {
    let keywords: [String]
    let regexes: [PCRE2Regex]
    let scratch = MatchScratch()

    func matches(in text: String) -> Int {
        let lowered = text.lowercased()
        var count = 0
        for keyword in keywords where lowered.contains(keyword) { count += 1 }
        for regex in regexes where (try? regex.hasMatch(in: text, using: scratch)) == true { count += 1 }
        return count
    }
}
