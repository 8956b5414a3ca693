import Testing

@testable import Matching

/// Lists matched as sets of exact tokens: whole values, parent domains, language prefixes.
@Suite struct TokenSetTests {
    let normalizer = TextNormalizer()

    private func build(_ entries: [String], folding: NormalizationOptions = []) throws -> TokenSet<String> {
        var builder = TokenSetBuilder<String>()
        for entry in entries { try builder.add(entry, tag: entry, folding: folding) }
        return builder.build()
    }

    /// `entry@matched text@range` for every hit.
    private func found(_ set: TokenSet<String>, _ value: String, _ shape: TokenShape) -> [String] {
        set.hits(in: value, shape: shape, using: normalizer).map {
            "\($0.tag)@\($0.substring(in: value))@\($0.byteRange.lowerBound)..<\($0.byteRange.upperBound)"
        }
    }

    @Test func wholeValuesOnly() throws {
        let set = try build(["crypto", "free money"])
        #expect(found(set, "crypto", .whole) == ["crypto@crypto@0..<6"])
        #expect(found(set, "cryptoscam", .whole).isEmpty)
        #expect(found(set, "scam-crypto", .whole).isEmpty)
        #expect(found(set, "free money", .whole) == ["free money@free money@0..<10"])
        #expect(found(set, "free", .whole).isEmpty)
    }

    @Test func parentDomains() throws {
        let set = try build(["bit.ly", "evil.example"])
        #expect(found(set, "bit.ly", .domain) == ["bit.ly@bit.ly@0..<6"])
        #expect(found(set, "x.bit.ly", .domain) == ["bit.ly@bit.ly@2..<8"])
        #expect(found(set, "a.b.evil.example", .domain) == ["evil.example@evil.example@4..<16"])
        #expect(found(set, "notbit.ly", .domain).isEmpty)
        #expect(found(set, "bit.ly.example", .domain).isEmpty)
        #expect(found(set, "ly", .domain).isEmpty)
        #expect(found(set, "bit.ly.", .domain).isEmpty)  // hosts come without the final dot
        // Not a domain: the whole value only.
        #expect(found(set, "x.bit.ly", .whole).isEmpty)
    }

    @Test func everyMatchingParentIsReportedLongestFirst() throws {
        let set = try build(["ly", "bit.ly", "x.bit.ly"])
        #expect(found(set, "x.bit.ly", .domain) == ["x.bit.ly@x.bit.ly@0..<8", "bit.ly@bit.ly@2..<8", "ly@ly@6..<8"])
    }

    @Test func languagePrefixes() throws {
        let set = try build(["pt", "zh-hant"])
        #expect(found(set, "pt", .languageTag) == ["pt@pt@0..<2"])
        #expect(found(set, "pt-BR", .languageTag) == ["pt@pt@0..<2"])
        #expect(found(set, "zh-Hant-TW", .languageTag) == ["zh-hant@zh-Hant@0..<7"])
        #expect(found(set, "ptx", .languageTag).isEmpty)
        #expect(found(set, "en-pt", .languageTag).isEmpty)
    }

    @Test func entriesAndValuesAreNormalisedAlike() throws {
        let set = try build(["BIT.LY", "Café", " spaced "])
        #expect(found(set, "bit.ly", .domain) == ["BIT.LY@bit.ly@0..<6"])
        #expect(found(set, "X.Bit.Ly", .domain) == ["BIT.LY@Bit.Ly@2..<8"])
        // Fullwidth letters and dot fold to ASCII; the range covers the original characters.
        #expect(found(set, "ｂｉｔ．ｌｙ", .domain) == ["BIT.LY@ｂｉｔ．ｌｙ@0..<18"])
        // Cyrillic look-alikes.
        #expect(found(set, "bіt.ly", .domain) == ["BIT.LY@bіt.ly@0..<7"])
        #expect(found(set, "CAFE", .whole) == ["Café@CAFE@0..<4"])
        #expect(found(set, "  spaced", .whole) == [" spaced @spaced@2..<8"])
    }

    @Test func foldingVariants() throws {
        let leet = try build(["free"], folding: .leet)
        #expect(found(leet, "fr33", .whole) == ["free@fr33@0..<4"])
        let plain = try build(["free"])
        #expect(found(plain, "fr33", .whole).isEmpty)
        let squeezed = try build(["free"], folding: .squeeze)
        #expect(found(squeezed, "FREEEEE", .whole) == ["free@FREEEEE@0..<7"])
    }

    @Test func repeatsUnderOneTagAreDroppedAndTagsAreKeptApart() throws {
        var builder = TokenSetBuilder<Int>()
        #expect(try builder.add("bit.ly", tag: 1))
        #expect(try !builder.add("BIT.LY", tag: 1))
        #expect(try builder.add("bit.ly", tag: 2))
        let set = builder.build()
        #expect(set.count == 2)
        #expect(set.hits(in: "bit.ly", shape: .domain, using: normalizer).map(\.tag).sorted() == [1, 2])
    }

    @Test func emptyEntriesAreRefused() {
        var builder = TokenSetBuilder<Int>()
        #expect(throws: KeywordError.emptyAfterNormalization(keyword: " \u{200B} ")) {
            try builder.add(" \u{200B} ", tag: 0)
        }
    }

    @Test func aHundredThousandEntriesLoadAndMatch() throws {
        var builder = TokenSetBuilder<Int>()
        for index in 0..<100_000 { try builder.add("host\(index).example", tag: index) }
        let set = builder.build()
        #expect(set.count == 100_000)
        for index in stride(from: 0, to: 100_000, by: 997) {
            let hits = set.hits(in: "www.HOST\(index).example", shape: .domain, using: normalizer)
            #expect(hits.map(\.tag) == [index])
            #expect(hits.first?.byteRange == 4..<(4 + "host\(index).example".utf8.count))
        }
        #expect(set.hits(in: "host100000.example", shape: .domain, using: normalizer).isEmpty)
    }
}
