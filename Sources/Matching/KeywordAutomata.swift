/// The type-independent core of a ``KeywordSet``: one ``AhoCorasick`` per folding variant in use,
/// plus what the scan needs to know of each keyword. Kept apart from the generic `KeywordSet` so
/// the per-text loop is compiled once, not per tag type.
struct KeywordAutomata: Sendable {
    /// The automaton for the keywords of one folding variant.
    struct Pass: Sendable {
        let folding: NormalizationOptions
        let automaton: AhoCorasick
        /// Keyword index of each automaton pattern.
        let keywords: [UInt32]
    }

    /// One keyword occurrence: the keyword's index and its range in the original UTF-8.
    struct Occurrence {
        let keyword: Int
        let start: Int
        let end: Int
    }

    let passes: [Pass]
    /// Per keyword: whether it must be a whole word, and its normalised length in bytes.
    let wholeWord: [Bool]
    let lengths: [UInt32]

    /// Every occurrence in `text`, ordered by original position (start, then end).
    func occurrences(in text: String, using normalizer: TextNormalizer) -> [Occurrence] {
        var found: [Occurrence] = []
        guard !passes.isEmpty else { return found }
        normalizer.load(text)
        for pass in passes {
            let mapped = normalizer.mapped(pass.folding)
            let bytes = mapped.buffer
            pass.automaton.scan(bytes) { pattern, end in
                let keyword = Int(pass.keywords[pattern])
                let start = end - Int(lengths[keyword])
                if wholeWord[keyword], !WordBoundary.isWord(bytes, start: start, end: end) { return }
                let original = mapped.originalRange(of: start..<end)
                found.append(Occurrence(keyword: keyword, start: original.lowerBound, end: original.upperBound))
            }
        }
        if found.count > 1 {
            found.sort { ($0.start, $0.end, $0.keyword) < ($1.start, $1.end, $1.keyword) }
        }
        return found
    }
}
