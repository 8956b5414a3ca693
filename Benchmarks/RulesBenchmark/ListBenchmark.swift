import ATProto
import Foundation
import Rules
import SeededRandom
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Big lists: one rule over a generated list of N domains (`in: [domains]`, compiled as a hashed
/// set) or N phrases (`in: [text]`, compiled into the keyword automaton). Each size runs in a
/// child process, so its peak RSS is its own: compile time of `RuleSet.load(directory:)`, peak
/// RSS once loaded, median µs per post. Python's time to read the same file into a set
/// (`set(l.strip() for l in open(F))`, timed inside Python) is measured in the same run as a
/// yardstick for the compile time.
enum ListBenchmark {
    enum Kind: String, CaseIterable {
        case domains, phrases
    }

    /// - Parameter keep: a folder to write the rule sets into and leave there (for measuring
    ///   `labeler rules check` on them); by default they go to a temporary folder, removed after.
    static func run(sizes: [Int], posts: Int, executable: String, keep: String? = nil) throws {
        print("\n== big lists: one rule, compile time, peak RSS and cost per post (one child process each) ==")
        print("  list              entries   python set   compile   ×python   peak RSS    µs/post")
        let root = keep ?? NSTemporaryDirectory() + "rules-bench-lists-\(getpid())"
        defer { if keep == nil { try? FileManager.default.removeItem(atPath: root) } }
        for kind in Kind.allCases {
            for size in sizes {
                let directory = root + "/\(kind.rawValue)-\(size)"
                let list = try write(kind, size: size, into: directory)
                let python = pythonSetRead(list)
                let child = try runChild(
                    executable, arguments: ["--list-child", directory, kind.rawValue, String(posts)])
                let ratio = python.map { child.compileSeconds / $0 }
                print(
                    "  " + kind.rawValue.padding(toLength: 16, withPad: " ", startingAt: 0)
                        + String(format: "%9d", size)
                        + (python.map { String(format: "   %7.0f ms", $0 * 1000) } ?? "        n/a")
                        + String(format: "   %7.0f ms", child.compileSeconds * 1000)
                        + (ratio.map { String(format: "   %6.1f×", $0) } ?? "      n/a")
                        + String(format: "   %6.0f MB   %7.2f", child.peakMB, child.microsPerPost))
            }
        }
        guard let largest = sizes.max() else { return }
        print("\n  reload of the largest lists while this thread evaluates posts through the holder:")
        for kind in Kind.allCases {
            let output = try runProcess(
                executable, ["--reload-child", root + "/\(kind.rawValue)-\(largest)", kind.rawValue])
            let parts = output.split(whereSeparator: \.isWhitespace)
            guard parts.count == 3 else { throw ChildFailure(output: output) }
            print(
                "  \(kind.rawValue) \(largest): reload \(parts[0]) ms, longest evaluation meanwhile \(parts[1]) ms (\(parts[2]) posts)"
            )
        }
    }

    /// The child: loads the rule set in `directory`, reports compile time and peak RSS, then the
    /// cost per post on `posts` generated posts, as one line `seconds megabytes micros`.
    static func child(directory: String, kind: Kind, posts: Int) throws {
        let start = ContinuousClock.now
        let set = try RuleSet.load(directory: directory)
        let compile = RulesBenchmark.seconds(ContinuousClock.now - start)
        let peak = peakRSSMegabytes()
        let entries = try String(contentsOfFile: directory + "/lists/entries.txt", encoding: .utf8)
            .split(separator: "\n").map(String.init)
        var random = SplitMix64(seed: 99)
        let contexts = (0..<posts).map { index in post(kind, index: index, entries: entries, using: &random) }
        let figures = RulesBenchmark.measureEngine(set, contexts, rounds: 3)
        let hits = RulesBenchmark.countEffects(set, contexts).labels
        FileHandle.standardError.write(
            Data("  \(kind.rawValue) \(entries.count): \(set.summary); \(hits) labels\n".utf8))
        print(String(format: "%.6f %.1f %.3f", compile, peak, figures.median))
    }

    /// The child for a reload: with the set in `directory` in force, loads it again on another
    /// thread (as `RuleReloader` does) and swaps it in, while this thread evaluates posts through
    /// the holder. Prints the reload's duration and the longest single evaluation meanwhile, in
    /// milliseconds: what a reload costs the ingest path.
    static func reloadChild(directory: String, kind: Kind) throws {
        let holder = RuleSetHolder(try RuleSet.load(directory: directory))
        let entries = try String(contentsOfFile: directory + "/lists/entries.txt", encoding: .utf8)
            .split(separator: "\n").prefix(10_000).map(String.init)
        var random = SplitMix64(seed: 5)
        let contexts = (0..<2_000).map { index in post(kind, index: index, entries: entries, using: &random) }
        let scratch = RuleScratch()
        let done = Atomic<Bool>(false)
        let start = ContinuousClock.now
        let thread = Thread {
            _ = holder.reload(from: directory)
            done.store(true, ordering: .releasing)
        }
        thread.start()
        var longest = Duration.zero
        var evaluated = 0
        while !done.load(ordering: .acquiring) {
            let before = ContinuousClock.now
            _ = holder.current.evaluate(contexts[evaluated % contexts.count], using: scratch)
            longest = max(longest, ContinuousClock.now - before)
            evaluated += 1
        }
        let reload = ContinuousClock.now - start
        print(
            String(
                format: "%.0f %.2f %d", RulesBenchmark.seconds(reload) * 1000, RulesBenchmark.seconds(longest) * 1000,
                evaluated))
    }

    /// Writes the rule file and its list; returns the list's path.
    static func write(_ kind: Kind, size: Int, into directory: String) throws -> String {
        try FileManager.default.createDirectory(atPath: directory + "/lists", withIntermediateDirectories: true)
        var random = SplitMix64(seed: UInt64(size) &* 31 &+ (kind == .domains ? 1 : 2))
        var text = ""
        text.reserveCapacity(size * 24)
        for index in 0..<size {
            text += entry(kind, index: index, using: &random)
            text += "\n"
        }
        let list = directory + "/lists/entries.txt"
        try text.write(toFile: list, atomically: false, encoding: .utf8)
        let field = kind == .domains ? "domains" : "text"
        let yaml = """
            rules:
              - id: listed-\(kind.rawValue)
                on: [post]
                match: {keywords: {file: lists/entries.txt}, in: [\(field)]}
                label: listed

            """
        try yaml.write(toFile: directory + "/rules.yaml", atomically: false, encoding: .utf8)
        return list
    }

    static let tlds = ["com", "net", "org", "io", "xyz", "info", "ru", "cn", "top", "site", "co.uk", "de"]

    /// Entry `index` of a list: unique by construction (the index is spelled into it).
    static func entry(_ kind: Kind, index: Int, using random: inout SplitMix64) -> String {
        let word = RuleSetGenerator.word(using: &random)
        let tag = RuleSetGenerator.letters(index)
        switch kind {
        case .domains:
            let host = word + "-" + tag + "." + tlds[Int(random.next(below: tlds.count))]
            return random.next(below: 4) == 0 ? RuleSetGenerator.word(using: &random) + "." + host : host
        case .phrases:
            return random.next(below: 2) == 0 ? word + tag : word + " " + RuleSetGenerator.word(using: &random) + tag
        }
    }

    /// A post: for domains, a text with an external link (a listed host, under a subdomain now
    /// and then, in one post of ten); for phrases, generated text with a listed phrase in one post
    /// of ten.
    static func post(_ kind: Kind, index: Int, entries: [String], using random: inout SplitMix64) -> RecordContext {
        var words = (0..<Int.random(in: 8...40, using: &random)).map { _ in
            PostGenerator.english.randomElement(using: &random)!
        }
        let planted = random.next(below: 10) == 0 ? entries.randomElement(using: &random)! : nil
        var fields: [String: CBORValue] = [
            "$type": "app.bsky.feed.post", "createdAt": "2025-01-01T00:00:00.000Z",
        ]
        switch kind {
        case .domains:
            let host = planted.map { "www." + $0 } ?? "\(RuleSetGenerator.word(using: &random)).example"
            fields["embed"] = .map([
                "$type": "app.bsky.embed.external",
                "external": .map([
                    "uri": .text(CBORText("https://\(host)/p/\(index)")), "title": "t", "description": "d",
                ]),
            ])
        case .phrases:
            if let planted { words.insert(planted, at: Int.random(in: 0...words.count, using: &random)) }
        }
        fields["text"] = .text(CBORText(words.joined(separator: " ")))
        return RecordContext(
            did: "did:plc:bench\(index % 5_000)", collection: Collections.post, rkey: "3lbench\(index)",
            action: .create, cid: "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm",
            record: .map(CBORMap(fields.map { ($0.key, $0.value) })), time: 1_735_689_600_000_000 + Int64(index) * 1_000
        )
    }

    /// Seconds Python takes to read `path` into a set of stripped lines, or `nil` without python3.
    static func pythonSetRead(_ path: String) -> Double? {
        let script =
            "import sys, time\nt = time.perf_counter()\ns = set(l.strip() for l in open(sys.argv[1]))\n"
            + "print(time.perf_counter() - t)"
        guard let output = try? runProcess("/usr/bin/env", ["python3", "-c", script, path]) else { return nil }
        return Double(output.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    static func runChild(
        _ executable: String, arguments: [String]
    ) throws -> (compileSeconds: Double, peakMB: Double, microsPerPost: Double) {
        let output = try runProcess(executable, arguments)
        let parts = output.split(whereSeparator: \.isWhitespace).compactMap { Double($0) }
        guard parts.count == 3 else { throw ChildFailure(output: output) }
        return (parts[0], parts[1], parts[2])
    }

    struct ChildFailure: Error { let output: String }

    static func runProcess(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ChildFailure(output: String(decoding: data, as: UTF8.self)) }
        return String(decoding: data, as: UTF8.self)
    }

    /// The process's peak resident set so far.
    static func peakRSSMegabytes() -> Double {
        var usage = rusage()
        #if canImport(Glibc)
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_maxrss) / 1024  // kilobytes on Linux
        #else
        getrusage(RUSAGE_SELF, &usage)
        return Double(usage.ru_maxrss) / (1024 * 1024)  // bytes on Darwin
        #endif
    }
}
