/// How a field value may contain a list entry when the list is matched as a set of exact tokens
/// (see ``TokenSet``).
public enum TokenShape: Sendable, Hashable {
    /// The whole value and nothing else: a hashtag `crypto` is the entry `crypto`, not `cryptoscam`.
    case whole
    /// A domain name: the whole value or one of its parent domains, cut at dots, so the entry
    /// `bit.ly` matches `bit.ly` and `x.bit.ly` but neither `notbit.ly` nor `bit.ly.example`.
    case domain
    /// A language tag: the whole value or a prefix of it cut at a hyphen, so the entry `pt`
    /// matches `pt` and `pt-BR` but not `ptx`.
    case languageTag
}

/// Keywords matched as exact tokens: a hashed set per folding variant, looked up with the value
/// (and, for domains and language tags, its parents) instead of scanning it with an automaton.
///
/// For fields whose values are single tokens (domains, hashtags, handles, language codes) a list
/// of a million entries compiles in about the time it takes to normalise and hash each entry once,
/// and a lookup costs one hash per candidate, whatever the size of the list. Entries and values
/// go through the same ``TextNormalizer`` with the same options as automaton keywords, so
/// `BIT.LY`, `ｂｉｔ.ｌｙ` and `bit.ly` are one entry; surrounding spaces are ignored.
///
/// ```swift
/// var builder = TokenSetBuilder<String>()
/// try builder.add("bit.ly", tag: "shorteners")
/// let set = builder.build()
/// set.hits(in: "x.BIT.ly", shape: .domain, using: TextNormalizer())   // "bit.ly" at bytes 2..<8
/// ```
public final class TokenSet<Tag: Sendable>: Sendable {
    struct Table: Sendable {
        let folding: NormalizationOptions
        /// Normalised entry → entry index.
        let table: TokenTable
    }

    /// Entries as added, before normalisation, for evidence.
    private let entries: ByteStrings
    private let tags: [Tag]
    private let tables: [Table]

    init(entries: ByteStrings, tags: [Tag], tables: [Table]) {
        self.entries = entries
        self.tags = tags
        self.tables = tables
    }

    /// Number of entries (after removing duplicates).
    public var count: Int { tags.count }

    /// Whether the set has no entries.
    public var isEmpty: Bool { tags.isEmpty }

    /// Approximate memory of the tables and entries, in bytes.
    public var memoryBytes: Int {
        entries.memoryBytes + tables.reduce(0) { $0 + $1.table.memoryBytes } + MemoryLayout<Tag>.stride * tags.count
    }

    /// The entries `value` contains as a token of `shape`: the whole value first, then shorter
    /// parts (parent domains, shorter language prefixes). Each hit's byte range is the matched
    /// part of `value` (UTF-8 offsets).
    public func hits(in value: String, shape: TokenShape, using normalizer: TextNormalizer) -> [KeywordHit<Tag>] {
        var found: [KeywordHit<Tag>] = []
        guard !tables.isEmpty else { return found }
        normalizer.load(value)
        for table in tables {
            let mapped = normalizer.mapped(table.folding)
            let bytes = mapped.buffer
            var start = 0
            var end = bytes.count
            while start < end, bytes[start] == 0x20 { start += 1 }
            while end > start, bytes[end - 1] == 0x20 { end -= 1 }
            guard start < end else { continue }
            func look(_ from: Int, _ to: Int) {
                table.table.forEachValue(of: UnsafeBufferPointer(rebasing: bytes[from..<to])) { entry in
                    let entry = Int(entry)
                    found.append(
                        KeywordHit(
                            tag: tags[entry], keyword: entries.string(entry),
                            byteRange: mapped.originalRange(of: from..<to)))
                }
            }
            look(start, end)
            switch shape {
            case .whole:
                break
            case .domain:
                for dot in start..<end where bytes[dot] == 0x2E && dot + 1 < end { look(dot + 1, end) }
            case .languageTag:
                for hyphen in (start..<end).reversed() where bytes[hyphen] == 0x2D && hyphen > start {
                    look(start, hyphen)
                }
            }
        }
        return found
    }
}

/// Collects entries for a ``TokenSet``, normalising each as it is added and dropping repeats of
/// an entry under the same tag.
public struct TokenSetBuilder<Tag: Sendable & Equatable> {
    private var entries = ByteStrings()
    private var tags: [Tag] = []
    private var tables: [NormalizationOptions: TokenTable] = [:]
    private let normalizer = TextNormalizer()

    public init() {}

    /// Number of entries kept so far.
    public var count: Int { tags.count }

    /// Adds `entry`, reported with `tag`; `folding` is applied to it and to the values it is
    /// compared with. Returns false when the same normalised entry was already added with `tag`.
    /// - Throws: ``KeywordError/emptyAfterNormalization(keyword:)`` when nothing but spaces is left.
    @discardableResult
    public mutating func add(_ entry: String, tag: Tag, folding: NormalizationOptions = []) throws(KeywordError)
        -> Bool
    {
        normalizer.load(entry)
        let bytes = normalizer.mapped(folding).buffer
        var start = 0
        var end = bytes.count
        while start < end, bytes[start] == 0x20 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 { end -= 1 }
        guard start < end else { throw .emptyAfterNormalization(keyword: entry) }
        let key = UnsafeBufferPointer(rebasing: bytes[start..<end])
        var repeated = false
        tables[folding]?.forEachValue(of: key) { if tags[Int($0)] == tag { repeated = true } }
        guard !repeated else { return false }
        tables[folding, default: TokenTable()].insert(key, value: UInt32(tags.count))
        tags.append(tag)
        entries.append(entry)
        return true
    }

    /// Reserves room for about `count` more entries of `bytes` bytes in all, in folding `folding`.
    public mutating func reserveCapacity(_ count: Int, bytes: Int, folding: NormalizationOptions = []) {
        tags.reserveCapacity(tags.count + count)
        entries.reserveCapacity(strings: entries.count + count, bytes: entries.byteCount + bytes)
        tables[folding, default: TokenTable()].reserveCapacity(count, bytes: bytes)
    }

    /// Compiles the entries added so far.
    public func build() -> TokenSet<Tag> {
        TokenSet(
            entries: entries, tags: tags,
            tables: tables.sorted { $0.key.rawValue < $1.key.rawValue }.map { .init(folding: $0.key, table: $0.value) })
    }
}
