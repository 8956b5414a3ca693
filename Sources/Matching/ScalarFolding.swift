import Foundation

/// The folding of one non-ASCII Unicode scalar, the slow path of ``TextNormalizer`` (whose cache
/// runs it once per distinct scalar):
///
/// 1. format characters (zero-width space and joiners, soft hyphen, word joiner, BOM, bidi
///    controls, tag characters) and blank fillers are removed;
/// 2. nonspacing and enclosing marks (accents, variation selectors, keycaps) are dropped and
///    their bytes attributed to the preceding character;
/// 3. whitespace becomes a plain space;
/// 4. otherwise: NFKC (fullwidth, ligatures, mathematical and circled letters → plain), full case
///    folding (`ß` → `ss`), canonical decomposition with marks removed (`é` → `e`), the
///    ``Homoglyphs`` table, then NFC (so Hangul syllables stay whole).
///
/// Spacing marks (Devanagari vowel signs and the like) are kept: they are part of the letters of
/// those scripts, not decoration.
enum ScalarFolding {
    enum Result: Equatable {
        /// The scalar becomes these UTF-8 bytes.
        case text([UInt8])
        /// The scalar disappears.
        case removed
        /// The scalar disappears, and the original bytes it covered belong to the previous output.
        case attached
    }

    static func fold(_ scalar: Unicode.Scalar) -> Result {
        if isInvisible(scalar) { return .removed }
        if isDroppedMark(scalar) { return .attached }
        if scalar.properties.isWhitespace { return .text([0x20]) }

        let compatible = String(scalar).precomposedStringWithCompatibilityMapping
        let folded = compatible.folding(options: .caseInsensitive, locale: nil)
        var kept = String.UnicodeScalarView()
        for part in folded.decomposedStringWithCanonicalMapping.unicodeScalars {
            if isInvisible(part) || isDroppedMark(part) { continue }
            if part.properties.isWhitespace {
                kept.append(" ")
            } else if let latin = Homoglyphs.latin(for: part.value) {
                kept.append(Unicode.Scalar(latin))
            } else {
                kept.append(part)
            }
        }
        let result = String(kept).precomposedStringWithCanonicalMapping
        return result.isEmpty ? .removed : .text(Array(result.utf8))
    }

    /// Characters with no visible form that can be slipped inside a word.
    static func isInvisible(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.properties.generalCategory == .format { return true }
        switch scalar.value {
        case 0x115F, 0x1160, 0x3164, 0xFFA0,  // Hangul fillers
            0x2800,  // braille blank
            0x034F:  // combining grapheme joiner
            return true
        default:
            return false
        }
    }

    static func isDroppedMark(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark: true
        default: false
        }
    }
}
