/// All the keywords of a rule set, compiled into one automaton per folding variant and matched in
/// one pass over each text, so the cost per text hardly depends on the number of keywords.
///
/// ```swift
/// var builder = KeywordSetBuilder<String>()
/// try builder.add("airdrop claim", tag: "crypto-giveaway")
/// try builder.add("h4te", tag: "abuse", options: KeywordOptions(mode: .substring, folding: .leet))
/// let keywords = builder.build()                  // immutable, shared by all workers
///
/// let normalizer = TextNormalizer()               // one per worker
/// for hit in keywords.hits(in: post, using: normalizer) { print(hit.tag, hit.substring(in: post)) }
/// ```
///
/// Texts and keywords go through the same ``TextNormalizer``; keywords sharing a
/// ``NormalizationOptions`` combination share an automaton run over that variant of the text
/// (at most four passes: plain, leet, squeezed, leet and squeezed).
public final class KeywordSet<Tag: Sendable>: Sendable {
    /// The keywords as added, before normalisation, for evidence.
    private let keywords: ByteStrings
    private let tags: [Tag]
    private let automata: KeywordAutomata

    init(keywords: ByteStrings, tags: [Tag], automata: KeywordAutomata) {
        self.keywords = keywords
        self.tags = tags
        self.automata = automata
    }

    /// Number of keywords.
    public var count: Int { keywords.count }

    /// Number of automaton states over all variants.
    public var stateCount: Int { automata.passes.reduce(0) { $0 + $1.automaton.stateCount } }

    /// Approximate memory of the automata, in bytes.
    public var automatonBytes: Int { automata.passes.reduce(0) { $0 + $1.automaton.tableBytes } }

    /// Every occurrence of every keyword in `text` (overlapping ones included), ordered by position
    /// in the original text.
    public func hits(in text: String, using normalizer: TextNormalizer) -> [KeywordHit<Tag>] {
        automata.occurrences(in: text, using: normalizer).map {
            KeywordHit(tag: tags[$0.keyword], keyword: keywords.string($0.keyword), byteRange: $0.start..<$0.end)
        }
    }
}

/// Collects keywords, normalising each as it is added, and compiles them into a ``KeywordSet``.
public struct KeywordSetBuilder<Tag: Sendable> {
    private var keywords = ByteStrings()
    private var tags: [Tag] = []
    private var wholeWord: [Bool] = []
    private var lengths: [UInt32] = []
    /// Normalised keywords per folding variant, and the keyword index of each.
    private var patterns: [NormalizationOptions: (bytes: ByteStrings, keywords: [UInt32])] = [:]
    private let normalizer = TextNormalizer()

    public init() {}

    /// Number of keywords added.
    public var count: Int { keywords.count }

    /// Adds `keyword`, reported with `tag` when it matches.
    /// - Throws: ``KeywordError/emptyAfterNormalization(keyword:)`` when nothing but whitespace
    ///   would be compared (so a rule loader can point at the offending list entry).
    public mutating func add(_ keyword: String, tag: Tag, options: KeywordOptions = .word) throws(KeywordError) {
        normalizer.load(keyword)
        let mapped = normalizer.mapped(options.folding)
        guard mapped.buffer.contains(where: { $0 != 0x20 }) else { throw .emptyAfterNormalization(keyword: keyword) }
        let index = UInt32(tags.count)
        keywords.append(keyword)
        tags.append(tag)
        wholeWord.append(options.mode == .word)
        lengths.append(UInt32(mapped.buffer.count))
        patterns[options.folding, default: (ByteStrings(), [])].bytes.append(mapped.buffer)
        patterns[options.folding, default: (ByteStrings(), [])].keywords.append(index)
    }

    /// Compiles the keywords added so far.
    public func build() -> KeywordSet<Tag> {
        let passes = patterns.sorted { $0.key.rawValue < $1.key.rawValue }.map { folding, group in
            KeywordAutomata.Pass(
                folding: folding, automaton: AhoCorasick(patterns: group.bytes), keywords: group.keywords)
        }
        let automata = KeywordAutomata(passes: passes, wholeWord: wholeWord, lengths: lengths)
        return KeywordSet(keywords: keywords, tags: tags, automata: automata)
    }
}
