import SeededRandom
import Testing

@testable import Matching

/// The automaton's raw occurrences against a naive search, on random patterns over small
/// alphabets (so patterns share prefixes and suffixes and failure links matter), with dense-row
/// budgets from none to all states.
@Suite struct AhoCorasickReferenceTests {
    struct Occurrence: Hashable, Comparable {
        let pattern: Int
        let end: Int
        static func < (a: Self, b: Self) -> Bool { (a.end, a.pattern) < (b.end, b.pattern) }
    }

    /// Every (pattern, end) by comparing each pattern at each offset.
    static func naive(_ patterns: [[UInt8]], _ text: [UInt8]) -> [Occurrence] {
        var found: [Occurrence] = []
        for end in 0...text.count {
            for (index, pattern) in patterns.enumerated() where pattern.count <= end {
                if text[(end - pattern.count)..<end].elementsEqual(pattern) {
                    found.append(Occurrence(pattern: index, end: end))
                }
            }
        }
        return found.sorted()
    }

    static func scan(_ automaton: AhoCorasick, _ text: [UInt8]) -> [Occurrence] {
        var found: [Occurrence] = []
        text.withUnsafeBufferPointer { buffer in
            automaton.scan(buffer) { found.append(Occurrence(pattern: $0, end: $1)) }
        }
        return found.sorted()
    }

    @Test(arguments: [0, 1, 8, 64, 1 << 18])
    func randomPatternsAgreeWithNaiveSearch(denseBudget: Int) {
        var random = SplitMix64(seed: UInt64(denseBudget) &+ 11)
        for round in 0..<30 {
            let alphabet: [UInt8] = Array("abcd. ".utf8.prefix(2 + round % 5)) + [0xC3, 0xA9]
            let patternCount = Int.random(in: 1...60, using: &random)
            let patterns = (0..<patternCount).map { _ in
                (0..<Int.random(in: 1...6, using: &random)).map { _ in alphabet.randomElement(using: &random)! }
            }
            let automaton = AhoCorasick(patterns: patterns, denseEntryBudget: denseBudget)
            for _ in 0..<10 {
                let text = (0..<Int.random(in: 0...80, using: &random)).map { _ in
                    // Now and then a byte no pattern uses (class 0).
                    Int.random(in: 0..<10, using: &random) == 0 ? UInt8(0x7A) : alphabet.randomElement(using: &random)!
                }
                #expect(Self.scan(automaton, text) == Self.naive(patterns, text))
            }
        }
    }

    @Test func repeatedPatternsAreEachReported() {
        let automaton = AhoCorasick(patterns: [Array("ab".utf8), Array("ab".utf8), Array("b".utf8)])
        #expect(Self.scan(automaton, Array("xab".utf8)).map(\.pattern).sorted() == [0, 1, 2])
    }

    @Test func noPatterns() {
        let automaton = AhoCorasick(patterns: [[UInt8]]())
        #expect(Self.scan(automaton, Array("anything".utf8)).isEmpty)
        #expect(automaton.stateCount == 1)
    }
}
