/// The word test of ``KeywordMode/word``: a match must not be preceded or followed, in the
/// normalised text, by a character that belongs to a word: a letter, digit, underscore or other
/// connector, or mark.
///
/// Scripts written without spaces between words (Han, Hiragana, Katakana, Thai, Lao, Khmer,
/// Myanmar) do not count as word characters: following Unicode's word segmentation, each ideograph
/// is a word of its own, so `詐欺` matches in `これは詐欺です` and `spam` in `スパムspam`, while
/// `spam` does not match in `spammer`. Emoji and other symbols are never word characters.
enum WordBoundary {
    /// Whether normalised bytes `start..<end` are delimited as a whole word.
    static func isWord(_ bytes: UnsafeBufferPointer<UInt8>, start: Int, end: Int) -> Bool {
        if start > 0, isWordCharacter(UTF8Offsets.decode(bytes, endingBefore: start)) { return false }
        if end < bytes.count,
            isWordCharacter(UTF8Offsets.decode(bytes, at: end, length: UTF8Offsets.scalarLength(leadByte: bytes[end])))
        {
            return false
        }
        return true
    }

    static func isWordCharacter(_ value: UInt32) -> Bool {
        if value < 0x80 {
            return value &- 0x61 < 26 || value &- 0x41 < 26 || value &- 0x30 < 10 || value == 0x5F
        }
        guard let scalar = Unicode.Scalar(value), !isWrittenWithoutSpaces(scalar) else { return false }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
            .decimalNumber, .letterNumber, .otherNumber,
            .nonspacingMark, .spacingMark, .enclosingMark,
            .connectorPunctuation:
            return true
        default:
            return false
        }
    }

    private static func isWrittenWithoutSpaces(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.properties.isIdeographic { return true }
        switch scalar.value {
        case 0x3040...0x30FF, 0x31F0...0x31FF, 0xFF66...0xFF9F:  // kana
            return true
        case 0x0E00...0x0EFF, 0x1000...0x109F, 0x1780...0x17FF:  // Thai, Lao, Myanmar, Khmer
            return true
        default:
            return false
        }
    }
}
