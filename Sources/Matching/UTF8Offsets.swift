/// Byte offsets into a string's UTF-8, which is what PCRE2 and the keyword automaton report, and
/// their translation back to `String` indices.
enum UTF8Offsets {
    /// Calls `body` with the UTF-8 of `text` without copying it when the string is stored
    /// contiguously (every native Swift string is), and with a contiguous copy otherwise.
    static func withBytes<R>(of text: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let result = text.utf8.withContiguousStorageIfAvailable(body) {
            return result
        }
        var copy = text
        copy.makeContiguousUTF8()
        return copy.utf8.withContiguousStorageIfAvailable(body)!
    }

    /// The `String.Index` range of a byte range of `text`'s UTF-8. Offsets must lie on Unicode
    /// scalar boundaries (PCRE2 in UTF mode and the keyword automaton guarantee it); they need not
    /// lie on `Character` boundaries, so use the result with `unicodeScalars` or `utf8` views, or
    /// through ``substring(_:in:)``, which keeps the exact scalars.
    static func indexRange(_ range: Range<Int>, in text: String) -> Range<String.Index> {
        let utf8 = text.utf8
        let lower = utf8.index(utf8.startIndex, offsetBy: range.lowerBound)
        let upper = utf8.index(lower, offsetBy: range.count)
        return lower..<upper
    }

    /// The exact scalars of a byte range of `text` (no rounding to `Character` boundaries, so a
    /// match of `e` in a decomposed `e\u{301}` is `e`).
    static func substring(_ range: Range<Int>, in text: String) -> Substring {
        Substring(text.unicodeScalars[indexRange(range, in: text)])
    }
}

extension UTF8Offsets {
    /// Length of the UTF-8 sequence a lead byte starts (1 for ASCII and, defensively, for a stray
    /// continuation byte).
    @inline(__always)
    static func scalarLength(leadByte b: UInt8) -> Int {
        if b < 0xC0 { return 1 }
        if b < 0xE0 { return 2 }
        if b < 0xF0 { return 3 }
        return 4
    }
}

extension UTF8Offsets {
    /// The scalar value of the well-formed UTF-8 sequence of `length` bytes at `i`.
    @inline(__always)
    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int, length: Int) -> UInt32 {
        let b0 = UInt32(bytes[i])
        switch length {
        case 1:
            return b0
        case 2:
            return (b0 & 0x1F) << 6 | UInt32(bytes[i + 1] & 0x3F)
        case 3:
            return (b0 & 0x0F) << 12 | UInt32(bytes[i + 1] & 0x3F) << 6 | UInt32(bytes[i + 2] & 0x3F)
        default:
            return (b0 & 0x07) << 18 | UInt32(bytes[i + 1] & 0x3F) << 12 | UInt32(bytes[i + 2] & 0x3F) << 6
                | UInt32(bytes[i + 3] & 0x3F)
        }
    }

    /// The scalar value of the UTF-8 sequence that ends just before offset `end`.
    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, endingBefore end: Int) -> UInt32 {
        var start = end - 1
        while start > 0, bytes[start] & 0xC0 == 0x80 { start -= 1 }
        return decode(bytes, at: start, length: end - start)
    }
}
