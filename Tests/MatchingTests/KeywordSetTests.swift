import Testing

@testable import Matching

@Suite struct KeywordSetTests {
    struct Tag: Hashable, Sendable {
        let rule: String
        let list: String
    }

    let normalizer = TextNormalizer()

    private func build(_ keywords: [(String, KeywordOptions)]) throws -> KeywordSet<String> {
        var builder = KeywordSetBuilder<String>()
        for (keyword, options) in keywords { try builder.add(keyword, tag: keyword, options: options) }
        return builder.build()
    }

    private func found(_ set: KeywordSet<String>, in text: String) -> [String] {
        set.hits(in: text, using: normalizer).map { "\($0.tag)@\($0.substring(in: text))" }
    }

    @Test func overlappingKeywordsAreAllReported() throws {
        let set = try build(["he", "she", "hers", "his"].map { ($0, .substring) })
        let hits = set.hits(in: "ushers", using: normalizer)
        #expect(hits.map(\.tag) == ["she", "he", "hers"])
        #expect(hits.map(\.byteRange) == [1..<4, 2..<4, 2..<6])
    }

    @Test func wordModeVersusSubstringMode() throws {
        let text = "Scampi is not a SCAM. scam_bot scam2 scam-bot"
        let word = try build([("scam", .word)])
        #expect(found(word, in: text) == ["scam@SCAM", "scam@scam"])
        let substring = try build([("scam", .substring)])
        #expect(found(substring, in: text).count == 5)
        // Phrases: whitespace of any kind and length reads as one space.
        let phrase = try build([("double your btc", .word)])
        #expect(found(phrase, in: "DOUBLE  your\nBTC today") == ["double your btc@DOUBLE  your\nBTC"])
    }

    @Test func unicodeWordBoundaries() throws {
        let set = try build([("詐欺", .word), ("spam", .word), ("naïve", .word)])
        // Ideographs and kana are words of their own, so no spaces are needed around them.
        #expect(found(set, in: "これは詐欺です") == ["詐欺@詐欺"])
        #expect(found(set, in: "スパムspamメール") == ["spam@spam"])
        // Emoji and symbols delimit words.
        #expect(found(set, in: "🔥spam🔥 ★spam★") == ["spam@spam", "spam@spam"])
        // Letters of any alphabet, digits and marks do not.
        #expect(found(set, in: "spammer spamé spam1 ßspam").isEmpty)
        #expect(found(set, in: "NAÏVE naive naïveté") == ["naïve@NAÏVE", "naïve@naive"])
    }

    @Test func hitsCoverTheOriginalCharacters() throws {
        let set = try build([("free", .word), ("café", .word), ("paypal", .word)])
        // Fullwidth letters: the span covers the 3-byte characters.
        let fullwidth = "ＦＲＥＥ money"
        let hit = try #require(set.hits(in: fullwidth, using: normalizer).first)
        #expect(hit.byteRange == 0..<12)
        #expect(hit.substring(in: fullwidth) == "ＦＲＥＥ")
        #expect(fullwidth[hit.range(in: fullwidth)] == "ＦＲＥＥ")
        // Zero-width characters inside the keyword are inside the span.
        #expect(found(set, in: "get fr\u{200B}e\u{00AD}e stuff") == ["free@fr\u{200B}e\u{00AD}e"])
        // A trailing combining accent belongs to the last letter.
        #expect(found(set, in: "Cafe\u{301}!") == ["café@Cafe\u{301}"])
        // Homoglyphs.
        #expect(found(set, in: "log in to раураl now") == ["paypal@раураl"])
    }

    @Test func leetAndSqueezeAreOptedIntoPerKeyword() throws {
        let set = try build([
            ("h4te", KeywordOptions(mode: .word, folding: .leet)),
            ("2024", .word),
            ("free", KeywordOptions(mode: .word, folding: .squeeze)),
            ("bad", KeywordOptions(mode: .word, folding: [.leet, .squeeze])),
        ])
        #expect(found(set, in: "I HATE it, h@t3 h4te") == ["h4te@HATE", "h4te@h@t3", "h4te@h4te"])
        #expect(found(set, in: "in 2024, not zo2a") == ["2024@2024"])
        #expect(found(set, in: "FREEEEE stuff, fre, frees") == ["free@FREEEEE", "free@fre"])
        #expect(found(set, in: "so b44aaad! b4d1") == ["bad@b44aaad"])
    }

    @Test func tagsAndDuplicates() throws {
        var builder = KeywordSetBuilder<Tag>()
        try builder.add("airdrop", tag: Tag(rule: "crypto", list: "giveaway"))
        try builder.add("AIRDROP", tag: Tag(rule: "crypto-2", list: "inline"))
        let set = builder.build()
        #expect(set.count == 2)
        let hits = set.hits(in: "claim your Airdrop", using: normalizer)
        #expect(Set(hits.map(\.tag)) == [Tag(rule: "crypto", list: "giveaway"), Tag(rule: "crypto-2", list: "inline")])
        #expect(hits.allSatisfy { $0.byteRange == 11..<18 })
        #expect(hits.map(\.keyword).sorted() == ["AIRDROP", "airdrop"])
    }

    @Test func keywordsThatNormaliseToNothingAreRejected() {
        var builder = KeywordSetBuilder<Int>()
        #expect(throws: KeywordError.emptyAfterNormalization(keyword: "\u{200B}\u{FEFF}")) {
            try builder.add("\u{200B}\u{FEFF}", tag: 1)
        }
        #expect(throws: KeywordError.emptyAfterNormalization(keyword: "")) { try builder.add("", tag: 2) }
        #expect(throws: KeywordError.emptyAfterNormalization(keyword: " \u{3000}\t")) {
            try builder.add(" \u{3000}\t", tag: 3)
        }
        #expect(builder.count == 0)
        #expect(builder.build().hits(in: "anything", using: normalizer).isEmpty)
    }

    @Test func oneSetSharedByManyTasks() async throws {
        let set = try build([("spam", .word), ("詐欺", .substring), ("h4x", KeywordOptions(folding: .leet))])
        let text = "SPAM 詐欺 hax ｓｐａｍ"
        let expected = found(set, in: text)
        #expect(expected.count == 4)
        let results = await withTaskGroup(of: [String].self) { group in
            for _ in 0..<8 {
                group.addTask {
                    let normalizer = TextNormalizer()
                    var last: [String] = []
                    for _ in 0..<100 {
                        last = set.hits(in: text, using: normalizer).map { "\($0.tag)@\($0.substring(in: text))" }
                    }
                    return last
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results == Array(repeating: expected, count: 8))
    }

    @Test func denseAndSparseStatesAgree() {
        // A tiny dense budget forces most states to be sparse; results must not change.
        let patterns: [[UInt8]] = ["he", "she", "his", "hers", "a", "aa", "aaa"].map { Array($0.utf8) }
        let text = Array("ushers said aaaa his".utf8)
        func occurrences(_ automaton: AhoCorasick) -> [String] {
            var found: [String] = []
            text.withUnsafeBufferPointer { buffer in
                automaton.scan(buffer) { found.append("\($0)@\($1)") }
            }
            return found
        }
        let dense = AhoCorasick(patterns: patterns)
        let sparse = AhoCorasick(patterns: patterns, denseEntryBudget: 1)
        #expect(occurrences(dense) == occurrences(sparse))
        #expect(occurrences(dense).count == 14)
    }
}
