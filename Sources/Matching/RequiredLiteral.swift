/// A run of literal characters that every match of a pattern contains, so a text without it can
/// skip the regex entirely.
///
/// The analysis is deliberately conservative: it reads the pattern's top-level concatenation and
/// plain groups, and gives up (returns `nil`) on anything it does not fully understand. A literal
/// under an alternation, an optional quantifier (`?`, `*`, `{0,n}`) or a lookaround is not required
/// and is never reported. Of several required runs, the longest is kept.
///
/// ```swift
/// RequiredLiteral.extract(from: #"free[-\s]?crypto\s+giveaway"#)?.text   // "giveaway"
/// RequiredLiteral.extract(from: "(spam|scam) link")?.text                 // " link"
/// RequiredLiteral.extract(from: "spam|scam")                              // nil
/// ```
public struct RequiredLiteral: Sendable, Hashable {
    /// The literal, as it appears in the pattern (lowercased when ``caseInsensitive``).
    public let text: String
    /// Whether texts are searched for it ignoring ASCII case. Case-insensitive literals contain
    /// only ASCII characters that no non-ASCII character matches caselessly (so no `k`, `s`:
    /// PCRE2 matches them with the Kelvin sign and the long s), which makes an ASCII case-folding
    /// byte search exact.
    public let caseInsensitive: Bool
    private let bytes: [UInt8]
    /// Offset of the byte the search looks for first (see ``ByteSearch``).
    private let anchor: Int

    init(text: String, caseInsensitive: Bool) {
        self.text = text
        self.caseInsensitive = caseInsensitive
        bytes = Array(text.utf8)
        anchor = ByteSearch.rarestByteOffset(in: bytes)
    }

    /// Whether `haystack` contains the literal.
    public func occurs(in haystack: String) -> Bool {
        UTF8Offsets.withBytes(of: haystack) { hay in
            bytes.withUnsafeBufferPointer { needle in
                ByteSearch(needle: needle, anchor: anchor, ignoringASCIICase: caseInsensitive).occurs(in: hay)
            }
        }
    }

    /// The required literal of `pattern` compiled with `options`, or `nil` when none was found.
    public static func extract(from pattern: String, options: RegexOptions = []) -> RequiredLiteral? {
        // In extended mode whitespace and `#…` are not literal; not worth modelling.
        guard !options.contains(.extended) else { return nil }
        var reader = PatternReader(Array(pattern.unicodeScalars), caseInsensitive: options.contains(.caseInsensitive))
        guard let runs = reader.sequence(), reader.atEnd else { return nil }
        var best: [Unicode.Scalar] = []
        var bestLength = 0
        for run in reader.caseInsensitive ? runs.flatMap(caselessPieces) : runs {
            let length = run.reduce(0) { $0 + UTF8.width($1) }
            if length > bestLength {
                best = run
                bestLength = length
            }
        }
        guard bestLength > 0 else { return nil }
        var text = String.UnicodeScalarView()
        text.append(contentsOf: best)
        return RequiredLiteral(text: String(text), caseInsensitive: reader.caseInsensitive)
    }

    /// Splits a run at characters an ASCII case-folding search cannot compare exactly (non-ASCII,
    /// and `k`/`s`, which have non-ASCII caseless twins), lowercasing the rest.
    private static func caselessPieces(_ run: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        var pieces: [[Unicode.Scalar]] = [[]]
        for scalar in run {
            let value = scalar.value
            let lowered = (0x41...0x5A).contains(value) ? value | 0x20 : value
            if lowered >= 0x80 || lowered == 0x6B || lowered == 0x73 {
                pieces.append([])
            } else {
                pieces[pieces.count - 1].append(Unicode.Scalar(UInt8(lowered)))
            }
        }
        return pieces
    }
}
