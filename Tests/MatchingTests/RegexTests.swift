import Testing

@testable import Matching

@Suite struct RegexTests {
    @Test func unicodePropertiesAndClasses() throws {
        let scratch = MatchScratch()
        let text = "→ Ünïcödé 123"
        let letters = try PCRE2Regex(#"\p{L}+"#)
        let match = try #require(try letters.firstMatch(in: text, using: scratch))
        #expect(match.byteRange == 4..<15)
        #expect(match.substring(in: text) == "Ünïcödé")
        #expect(text[match.range(in: text)] == "Ünïcödé")

        // UCP: \w, \d and \b follow Unicode.
        let word = try PCRE2Regex(#"\b\w+\b"#)
        #expect(try word.firstMatch(in: "«naïve»", using: scratch)?.substring(in: "«naïve»") == "naïve")
        #expect(try PCRE2Regex(#"^\d+$"#).hasMatch(in: "٣٤٥", using: scratch))
    }

    @Test func caseInsensitiveBeyondASCII() throws {
        let scratch = MatchScratch()
        let school = try PCRE2Regex("école", options: .caseInsensitive)
        #expect(try school.hasMatch(in: "L'ÉCOLE", using: scratch))
        let street = try PCRE2Regex("straße", options: .caseInsensitive)
        #expect(try street.hasMatch(in: "STRAẞE", using: scratch))
        let sigma = try PCRE2Regex("σ", options: .caseInsensitive)
        #expect(try sigma.allMatches(in: "Σσς", using: scratch).count == 3)
        #expect(try !PCRE2Regex("école").hasMatch(in: "ÉCOLE", using: scratch))
    }

    @Test func byteSpansMapBackToTheString() throws {
        let scratch = MatchScratch()
        let text = "Café 🎉 crème brûlée"
        let regex = try PCRE2Regex(#"cr(è)me\s+(\w+)"#)
        let match = try #require(try regex.firstMatch(in: text, using: scratch))
        #expect(match.byteRange == 11..<26)
        #expect(match.substring(in: text) == "crème brûlée")
        #expect(String(text[match.range(in: text)]) == "crème brûlée")
        #expect(match.captureByteRanges == [13..<15, 18..<26])
        #expect(match.capture(1, in: text) == "è")
        #expect(match.capture(2, in: text) == "brûlée")
        #expect(match.capture(3, in: text) == nil)

        // A match may end inside a Character (before a combining mark); the substring keeps the
        // exact scalars instead of rounding to the Character.
        let decomposed = "cafe\u{301}"
        let plain = try #require(try PCRE2Regex("cafe").firstMatch(in: decomposed, using: scratch))
        #expect(plain.byteRange == 0..<4)
        #expect(plain.substring(in: decomposed).unicodeScalars.elementsEqual("cafe".unicodeScalars))
    }

    @Test func unsetGroupsAndRepeatedMatches() throws {
        let scratch = MatchScratch()
        let match = try #require(try PCRE2Regex(#"(\d+)-(\d+)?"#).firstMatch(in: "ab 12-", using: scratch))
        #expect(match.captureByteRanges == [3..<5, nil])
        let digits = try PCRE2Regex(#"\d+"#).allMatches(in: "a1b22c333", using: scratch)
        #expect(digits.map(\.byteRange) == [1..<2, 3..<5, 6..<9])
        let empty = try PCRE2Regex("x*").allMatches(in: "aé", using: scratch)
        #expect(empty.map(\.byteRange) == [0..<0, 1..<1, 3..<3])
        #expect(try PCRE2Regex(#"\d"#).allMatches(in: "123", using: scratch, maxCount: 2).count == 2)
        #expect(try PCRE2Regex("").firstMatch(in: "", using: scratch)?.byteRange == 0..<0)
        #expect(try PCRE2Regex("a").firstMatch(in: "", using: scratch) == nil)
    }

    @Test func optionsMultilineAndDotAll() throws {
        let scratch = MatchScratch()
        let text = "first\nsecond"
        #expect(try !PCRE2Regex("^second").hasMatch(in: text, using: scratch))
        #expect(try PCRE2Regex("^second", options: .multiline).hasMatch(in: text, using: scratch))
        #expect(try !PCRE2Regex("first.second").hasMatch(in: text, using: scratch))
        #expect(try PCRE2Regex("first.second", options: .dotAll).hasMatch(in: text, using: scratch))
        #expect(try PCRE2Regex("fir st # comment", options: .extended).hasMatch(in: text, using: scratch))
    }

    @Test func compileErrorsCarryMessageAndOffset() {
        #expect {
            _ = try PCRE2Regex("(unclosed")
        } throws: { error in
            guard let error = error as? RegexCompileError else { return false }
            return error.message.contains("missing closing parenthesis") && error.byteOffset == 9
                && error.line == 1 && error.column == 10
        }
        // Offsets are bytes; columns are scalars.
        #expect {
            _ = try PCRE2Regex("é[a")
        } throws: { error in
            guard let error = error as? RegexCompileError else { return false }
            return error.message.contains("missing terminating ]") && error.byteOffset == 4 && error.column == 4
                && error.scalarOffset == 3
        }
        #expect {
            _ = try PCRE2Regex("a\n  b{2,1}", options: .extended)
        } throws: { error in
            guard let error = error as? RegexCompileError else { return false }
            return error.line == 2 && error.column == 8
                && error.description.hasPrefix("invalid regex at line 2, column 8:")
        }
        // \C could split a UTF-8 sequence, so it is refused.
        #expect(throws: RegexCompileError.self) { _ = try PCRE2Regex(#"a\Cb"#) }
    }

    @Test func catastrophicBacktrackingHitsTheMatchLimit() throws {
        let regex = try PCRE2Regex("(a+)+$")
        #expect(regex.isJITCompiled == PCRE2Regex.jitAvailable)
        let scratch = MatchScratch()
        let text = String(repeating: "a", count: 40) + "b"
        let start = ContinuousClock.now
        #expect(throws: RegexError.matchLimit) { _ = try regex.firstMatch(in: text, using: scratch) }
        #expect(ContinuousClock.now - start < .seconds(1))
        // The scratch and the pattern remain usable.
        #expect(try regex.firstMatch(in: "aaa", using: scratch)?.byteRange == 0..<3)
    }

    @Test func depthLimitInTheInterpreter() throws {
        // (*NO_JIT) forces the interpreter, the only engine that honours the depth limit.
        let regex = try PCRE2Regex("(*NO_JIT)(?:a|b)*c", limits: RegexLimits(depthLimit: 100))
        #expect(!regex.isJITCompiled)
        let scratch = MatchScratch()
        #expect(throws: RegexError.depthLimit) {
            _ = try regex.firstMatch(in: String(repeating: "ab", count: 500) + "dc", using: scratch)
        }
        #expect(try regex.hasMatch(in: "ababc", using: scratch))
    }

    @Test func lowerMatchLimitIsPerPattern() throws {
        let strict = try PCRE2Regex(#"(\w+\s?)+$"#, limits: RegexLimits(matchLimit: 1_000))
        let lenient = try PCRE2Regex(#"\w+"#, limits: RegexLimits(matchLimit: 1_000))
        let scratch = MatchScratch()
        let text = String(repeating: "word ", count: 30) + "!"
        #expect(throws: RegexError.matchLimit) { _ = try strict.hasMatch(in: text, using: scratch) }
        #expect(try lenient.hasMatch(in: text, using: scratch))
    }

    @Test func manyTasksShareOnePatternWithTheirOwnScratch() async throws {
        let regex = try PCRE2Regex(#"(\p{L}+)@(\d+)"#, options: .caseInsensitive)
        let texts = (0..<200).map { "user\($0) ÉLAN@\($0) tail" }
        let counts = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    let scratch = MatchScratch()
                    var ok = 0
                    for (i, text) in texts.enumerated() {
                        guard let match = try? regex.firstMatch(in: text, using: scratch) else { continue }
                        if match.capture(1, in: text) == "ÉLAN", match.capture(2, in: text) == Substring(String(i)) {
                            ok += 1
                        }
                    }
                    return ok
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(counts == Array(repeating: texts.count, count: 16))
    }

    @Test func jitStackIsLargeEnoughForLongRepeats() throws {
        // A backtracking group repeated over a long text needs more than PCRE2's default 32 KiB.
        let regex = try PCRE2Regex("^(?:(a)|b)*$", limits: RegexLimits(matchLimit: 10_000_000))
        let text = String(repeating: "ab", count: 5_000)
        #expect(try regex.hasMatch(in: text, using: MatchScratch()))
        #expect(throws: RegexError.jitStackLimit) {
            _ = try regex.hasMatch(in: text, using: MatchScratch(jitStackSize: 32 * 1024))
        }
    }

    @Test func prefilterNeverRejectsAMatch() throws {
        let scratch = MatchScratch()
        let regex = try PCRE2Regex(#"free[-\s]?crypto\s+giveaway"#, options: .caseInsensitive)
        #expect(regex.requiredLiteral == "giveaway")
        #expect(!regex.mayMatch("nothing to see here"))
        #expect(regex.mayMatch("FREE CRYPTO GIVEAWAY"))
        #expect(try regex.hasMatch(in: "FREE CRYPTO GIVEAWAY", using: scratch))
        // PCRE2 matches `k` with the Kelvin sign caselessly, so `k` is kept out of the literal.
        let kelvin = try PCRE2Regex("(?i)kelvin")
        #expect(kelvin.requiredLiteral == "elvin")
        #expect(try kelvin.hasMatch(in: "\u{212A}ELVIN", using: scratch))
        #expect(kelvin.mayMatch("\u{212A}ELVIN"))
        #expect(PCRE2Regex.libraryVersion.hasPrefix("10."))
    }
}
