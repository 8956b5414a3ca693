/// One occurrence of a keyword, located in the original text.
public struct KeywordHit<Tag: Sendable>: Sendable {
    /// The tag given with the keyword when it was added (for example a rule id and list name).
    public let tag: Tag
    /// The keyword as it was added, before normalisation.
    public let keyword: String
    /// Where the occurrence is in the original text, as UTF-8 byte offsets. It covers whole
    /// characters, including invisible ones and marks inside the occurrence and marks right after
    /// its last character.
    public let byteRange: Range<Int>

    /// The occurrence as a range of `text`'s indices; `text` must be the string that was scanned.
    public func range(in text: String) -> Range<String.Index> {
        UTF8Offsets.indexRange(byteRange, in: text)
    }

    /// The original text of the occurrence; `text` must be the string that was scanned.
    public func substring(in text: String) -> Substring {
        UTF8Offsets.substring(byteRange, in: text)
    }
}

extension KeywordHit: Equatable where Tag: Equatable {}
extension KeywordHit: Hashable where Tag: Hashable {}
