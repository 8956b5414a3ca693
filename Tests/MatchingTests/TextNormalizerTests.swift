import SeededRandom
import Testing

@testable import Matching

@Suite struct TextNormalizerTests {
    let normalizer = TextNormalizer()

    /// The original text each normalised byte maps back to, one entry per byte.
    private func sources(_ input: String, _ options: NormalizationOptions = []) -> (String, [Substring]) {
        let result = normalizer.normalize(input, options: options)
        return (result.text, result.offsetMap.map { UTF8Offsets.substring($0, in: input) })
    }

    @Test func asciiIsLowercasedAndWhitespaceCollapsed() {
        let result = normalizer.normalize("Hello,\t\n  World! 42")
        #expect(result.text == "hello, world! 42")
        #expect(result.offsetMap[6] == 6..<7)  // the kept space is the tab
        #expect(result.offsetMap[7] == 10..<11)  // "W"
        #expect(result.offsetMap.count == result.text.utf8.count)
        #expect(normalizer.normalize("").text == "")
    }

    /// ASCII is folded eight bytes at a time where it can be; compare with the plain definition
    /// (lowercase, whitespace runs to one space) on random ASCII of every shape.
    @Test func asciiFastPathAgreesWithTheDefinition() {
        var random = SplitMix64(seed: 11)
        let pieces = [
            "Hello", "WORLD", " ", "  ", "\t", "\n", "x", "Zz", "[@]", "_9", "~", "ABCDEFGHIJ", "klmnopqrstu",
        ]
        for _ in 0..<500 {
            let count = Int.random(in: 0...24, using: &random)
            let input = (0..<count).map { _ in pieces.randomElement(using: &random)! }.joined()
            var expected: [UInt8] = []
            var map: [Range<Int>] = []
            for (offset, byte) in input.utf8.enumerated() {
                let isSpace = byte == 0x20 || (0x09...0x0D).contains(byte)
                if isSpace, expected.last == 0x20 { continue }
                expected.append(isSpace ? 0x20 : (0x41...0x5A).contains(byte) ? byte | 0x20 : byte)
                map.append(offset..<offset + 1)
            }
            let result = normalizer.normalize(input)
            #expect(Array(result.text.utf8) == expected, "\(input.debugDescription)")
            #expect(result.offsetMap == map, "\(input.debugDescription)")
        }
    }

    @Test func fullwidthLettersBecomeASCII() {
        let (text, map) = sources("ＦＲＥＥ\u{3000}ｍｏｎｅｙ")
        #expect(text == "free money")
        #expect(map == ["Ｆ", "Ｒ", "Ｅ", "Ｅ", "\u{3000}", "ｍ", "ｏ", "ｎ", "ｅ", "ｙ"])
        let result = normalizer.normalize("ＦＲ")
        #expect(result.offsetMap == [0..<3, 3..<6])
    }

    @Test func ligaturesAndCompatibilityLetters() {
        let (text, map) = sources("ﬁne 𝐛𝐚𝐝 ⓑⓐⓓ ①")
        #expect(text == "fine bad bad 1")
        #expect(map[0] == "ﬁ" && map[1] == "ﬁ")
        #expect(map[5] == "𝐛")
        #expect(normalizer.normalize("𝐛𝐚𝐝").offsetMap == [0..<4, 4..<8, 8..<12])
    }

    @Test func caseFoldingIncludesSharpS() {
        let result = normalizer.normalize("STRAẞE straße ΣΊΣΥΦΟΣ")
        #expect(result.text.hasPrefix("strasse strasse "))
        // Both s of a folded ß map back to the one original character.
        #expect(result.offsetMap[4] == 4..<7)
        #expect(result.offsetMap[5] == 4..<7)
        #expect(result.offsetMap[12] == 13..<15)
        #expect(result.offsetMap[13] == 13..<15)
        #expect(normalizer.normalize("ΣΊΣΥΦΟΣ").text == normalizer.normalize("σίσυφος").text)
    }

    @Test func diacriticsAreStripped() {
        let (text, map) = sources("Crème brûlée, naïve")
        #expect(text == "creme brulee, naive")
        #expect(map[2] == "è")
        // A decomposed accent disappears and its bytes join the letter before it.
        let decomposed = normalizer.normalize("cafe\u{301}!")
        #expect(decomposed.text == "cafe!")
        #expect(decomposed.offsetMap == [0..<1, 1..<2, 2..<3, 3..<6, 6..<7])
        #expect(normalizer.normalize("Ёж йод").text == "eж иoд")
    }

    @Test func zeroWidthCharactersAreRemoved() {
        let input = "b\u{200B}a\u{00AD}d\u{2060}\u{FEFF}\u{200D}!"
        let result = normalizer.normalize(input)
        #expect(result.text == "bad!")
        #expect(result.offsetMap == [0..<1, 4..<5, 7..<8, 17..<18])
        // A keyword-sized range spans the removed characters inside it.
        #expect(result.originalByteRange(of: 0..<3) == 0..<8)
    }

    @Test func cyrillicAndGreekHomoglyphs() {
        let (text, map) = sources("раураl ЅСАМ κιτ ΚΙΤ")
        #expect(text == "paypal scam kit kit")
        #expect(map[0] == "р" && map[5] == "l" && map[7] == "Ѕ")
        #expect(map[12] == "κ" && map[13] == "ι" && map[16] == "Κ")
        #expect(normalizer.normalize("κιτ").offsetMap == [0..<2, 2..<4, 4..<6])
        // The lowercase look decides where the two cases differ (Greek Ν/ν reads v).
        #expect(normalizer.normalize("Ν ν").text == "v v")
        // Real Russian text folds consistently, whatever its case.
        #expect(normalizer.normalize("МОСКВА").text == normalizer.normalize("москва").text)
        #expect(normalizer.normalize("ᴘᴀʏᴘᴀʟ 🅿🅰🆈").text == "paypal pay")
    }

    @Test func leetDigitsOnlyInTheLeetVariant() {
        let input = "Fr33 M0N3Y $4le @dm1n 2024"
        #expect(normalizer.normalize(input).text == "fr33 m0n3y $4le @dm1n 2024")
        let leet = normalizer.normalize(input, options: .leet)
        #expect(leet.text == "free money sale admin 2o2a")
        // Leet maps byte for byte, so the offsets are those of the plain normalisation.
        #expect(leet.offsetMap == normalizer.normalize(input).offsetMap)
        // Fullwidth digits are digits after NFKC, so leet applies to them too.
        #expect(normalizer.normalize("ｆｒ３３", options: .leet).text == "free")
    }

    @Test func squeezeCollapsesRepeatedLetters() {
        let (text, map) = sources("Freeeee  moooooney!! 100", .squeeze)
        #expect(text == "fre money!! 100")
        #expect(map[2] == "eeeee")
        #expect(map[5] == "ooooo")
        #expect(map[9] == "!" && map[10] == "!")
        // With leet first: digits become letters, then squeeze.
        #expect(normalizer.normalize("b44d g00d", options: [.leet, .squeeze]).text == "bad god")
        // Non-ASCII letters too, and only letters.
        #expect(normalizer.normalize("ääää ★★", options: .squeeze).text == "a ★★")
        #expect(normalizer.normalize("nooo", options: .squeeze).offsetMap == [0..<1, 1..<4])
    }

    @Test func unicodeWhitespaceAndEmoji() {
        let (text, map) = sources("a\u{00A0}\u{3000}b 👋🏽 c\u{FE0F}")
        #expect(text == "a b 👋🏽 c")
        #expect(map[1] == "\u{00A0}")
        // Emoji and skin tone stay; the variation selector is dropped and joins the "c".
        #expect(map.last == "c\u{FE0F}")
    }

    @Test func normalisationIsIdempotent() {
        let samples = ["Ｈｅｌｌｏ ＷＯＲＬＤ", "ﬁnal straße", "раураl", "Crème brûlée", "詐欺です", "ΣΊΣΥΦΟΣ", "가나다 がぎ", "ᴘᴀʏ 𝐛𝐚𝐝"]
        for sample in samples {
            let once = normalizer.normalize(sample).text
            #expect(normalizer.normalize(once).text == once, "\(sample)")
        }
    }

    @Test func cacheGivesTheSameResultsAsAFreshNormalizer() {
        let text = "Ünïcödé ＦＵＬＬ ﬁ ß ё 詐欺 👍🏽 ㍿"
        let warm = TextNormalizer()
        _ = warm.normalize(text)
        #expect(warm.normalize(text) == TextNormalizer().normalize(text))
    }

    /// Random scalars from the whole code space: the output is well-formed UTF-8 and every byte
    /// maps to whole, ordered characters of the input.
    @Test func randomUnicodeKeepsTheMapConsistent() {
        var random = SplitMix64(seed: 99)
        let planes: [ClosedRange<UInt32>] = [
            0x20...0x7F, 0x80...0x2FFF, 0x3000...0xD7FF, 0xE000...0xFFFF, 0x10000...0x10FFFF,
        ]
        for _ in 0..<100 {
            var input = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0...60, using: &random) {
                let plane = planes.randomElement(using: &random)!
                input.append(Unicode.Scalar(UInt32.random(in: plane, using: &random)) ?? "?")
            }
            let text = String(input)
            let bytes = Array(text.utf8)
            for options in [NormalizationOptions(), .leet, .squeeze, [.leet, .squeeze]] {
                let result = normalizer.normalize(text, options: options)
                let map = result.offsetMap
                #expect(result.text.utf8.count == map.count)
                var previousStart = 0
                for range in map {
                    #expect(range.lowerBound >= previousStart && range.lowerBound < range.upperBound)
                    #expect(range.upperBound <= bytes.count)
                    #expect(bytes[range.lowerBound] & 0xC0 != 0x80)
                    #expect(range.upperBound == bytes.count || bytes[range.upperBound] & 0xC0 != 0x80)
                    previousStart = range.lowerBound
                }
            }
        }
    }

    @Test func scalarFoldingKinds() {
        #expect(ScalarFolding.fold("\u{200B}") == .removed)
        #expect(ScalarFolding.fold("\u{301}") == .attached)
        #expect(ScalarFolding.fold("\u{3000}") == .text([0x20]))
        #expect(ScalarFolding.fold("Ａ") == .text([0x61]))
        #expect(ScalarFolding.fold("ㅤ") == .removed)  // Hangul filler used for blank names
    }
}
