import SeededRandom
import Testing

@testable import Matching

/// The automaton against a brute-force search on random keyword sets and texts.
@Suite struct KeywordReferenceTests {
    struct Found: Hashable, CustomStringConvertible {
        let keyword: Int
        let range: Range<Int>
        var description: String { "\(keyword)@\(range)" }
    }

    static let foldings: [NormalizationOptions] = [[], .leet, .squeeze, [.leet, .squeeze]]

    /// Keyword pieces: mostly a few letters, so keywords overlap and recur, plus characters that
    /// exercise folding (case, accents, homoglyphs, fullwidth, leet digits, CJK).
    static let keywordPieces = [
        "a", "b", "c", "d", "e", "f", "g", "o", "A", "é", "а", "ß", "ｂ", "4", "0", "詐", "欺", " ",
    ]
    static let textPieces =
        keywordPieces + ["!", ".", " ", "  ", "🔥", "\u{200B}", "\u{301}", "1", "_", "x", "aaa", "Ö", "ー"]

    @Test func tenThousandKeywordsAgreeWithBruteForce() throws {
        var random = SplitMix64(seed: 2024)
        let normalizer = TextNormalizer()
        var builder = KeywordSetBuilder<Int>()
        var keywords: [(normalized: [UInt8], mode: KeywordMode, folding: NormalizationOptions)] = []
        while keywords.count < 10_000 {
            let length = Int.random(in: 1...7, using: &random)
            let keyword = (0..<length).map { _ in Self.keywordPieces.randomElement(using: &random)! }.joined()
            let folding = Self.foldings.randomElement(using: &random)!
            let mode: KeywordMode = Bool.random(using: &random) ? .word : .substring
            do {
                try builder.add(keyword, tag: keywords.count, options: KeywordOptions(mode: mode, folding: folding))
            } catch {
                continue  // a keyword of spaces only is refused
            }
            let normalized = Array(normalizer.normalize(keyword, options: folding).text.utf8)
            keywords.append((normalized, mode, folding))
        }
        let set = builder.build()
        #expect(set.count == 10_000)

        // Brute force: every keyword, grouped by folding and length, looked up at every offset.
        var index: [NormalizationOptions: [Int: [[UInt8]: [Int]]]] = [:]
        for (id, keyword) in keywords.enumerated() {
            let bytes = keyword.normalized
            index[keyword.folding, default: [:]][bytes.count, default: [:]][bytes, default: []].append(id)
        }

        var total = 0
        for _ in 0..<40 {
            let count = Int.random(in: 20...120, using: &random)
            let text = (0..<count).map { _ in Self.textPieces.randomElement(using: &random)! }.joined()
            var expected: [Found] = []
            for folding in Self.foldings {
                let normalized = normalizer.normalize(text, options: folding)
                let bytes = Array(normalized.text.utf8)
                for (length, byBytes) in index[folding] ?? [:] where length <= bytes.count {
                    for start in 0...(bytes.count - length) {
                        guard let ids = byBytes[Array(bytes[start..<start + length])] else { continue }
                        let end = start + length
                        for id in ids {
                            if keywords[id].mode == .word, !isWholeWord(normalized.text, start, end) { continue }
                            expected.append(Found(keyword: id, range: normalized.originalByteRange(of: start..<end)))
                        }
                    }
                }
            }
            let actual = set.hits(in: text, using: normalizer).map { Found(keyword: $0.tag, range: $0.byteRange) }
            #expect(actual.count == expected.count, "text \(text.debugDescription)")
            #expect(Set(actual) == Set(expected), "text \(text.debugDescription)")
            total += actual.count
        }
        #expect(total > 1_000)  // the texts really exercise the keywords
    }

    /// The word test, written independently of the library's byte-level version.
    private func isWholeWord(_ text: String, _ start: Int, _ end: Int) -> Bool {
        let utf8 = text.utf8
        let lower = utf8.index(utf8.startIndex, offsetBy: start)
        let upper = utf8.index(utf8.startIndex, offsetBy: end)
        let before = text.unicodeScalars[..<lower].last
        let after = text.unicodeScalars[upper...].first
        return [before, after].allSatisfy { scalar in
            guard let scalar else { return true }
            return !WordBoundary.isWordCharacter(scalar.value)
        }
    }
}
