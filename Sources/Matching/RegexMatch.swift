/// One match of a ``PCRE2Regex`` in a text.
///
/// Positions are byte offsets into the text's UTF-8, as PCRE2 reports them; ``range(in:)`` and
/// ``substring(in:)`` translate them back to the `String` the match was found in.
public struct RegexMatch: Sendable, Hashable {
    /// The whole match, as a range of UTF-8 byte offsets.
    public let byteRange: Range<Int>
    /// Capture groups 1…n as UTF-8 byte ranges; `nil` for a group that did not take part.
    public let captureByteRanges: [Range<Int>?]

    public init(byteRange: Range<Int>, captureByteRanges: [Range<Int>?] = []) {
        self.byteRange = byteRange
        self.captureByteRanges = captureByteRanges
    }

    /// The match as a range of `text`'s indices; `text` must be the string that was matched.
    public func range(in text: String) -> Range<String.Index> {
        UTF8Offsets.indexRange(byteRange, in: text)
    }

    /// The matched text; `text` must be the string that was matched.
    public func substring(in text: String) -> Substring {
        UTF8Offsets.substring(byteRange, in: text)
    }

    /// The text of capture group `group` (1-based), or `nil` when it did not take part or does not
    /// exist.
    public func capture(_ group: Int, in text: String) -> Substring? {
        guard group >= 1, group <= captureByteRanges.count, let range = captureByteRanges[group - 1] else {
            return nil
        }
        return UTF8Offsets.substring(range, in: text)
    }
}
