/// Why a byte string is not strict DAG-CBOR. Every decoder failure is one of these, with the byte
/// offset where it was found; the decoder never traps on input.
public struct CBORError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        /// The input ended inside an item.
        case truncated
        /// Bytes follow the item where exactly one item was expected.
        case trailingBytes
        /// A length or count declares more than the bytes left could hold.
        case lengthExceedsInput
        /// Indefinite-length items are not allowed.
        case indefiniteLength
        /// An integer or length is not in its shortest form.
        case nonMinimalEncoding
        /// Additional-information values 28–30 are reserved.
        case reservedAdditionalInfo
        /// atproto has no floating-point numbers.
        case floatNotAllowed
        /// Only `false`, `true` and `null` are allowed among the simple values.
        case simpleValueNotAllowed
        /// Tag 42 (CID link) is the only tag.
        case tagNotAllowed(UInt64)
        /// A tag-42 link that is not a byte string with a 0x00 prefix and a valid binary CID.
        case invalidLink(String)
        /// An integer outside the signed 64-bit range.
        case integerOutOfRange
        /// Text that is not valid UTF-8.
        case invalidUTF8
        /// Map keys must be text.
        case mapKeyNotText
        /// Map keys must be sorted length-first then bytewise, with no duplicates.
        case mapKeysNotCanonical
        case duplicateMapKey
        /// Nesting deeper than the limit.
        case nestingTooDeep(limit: Int)
        /// More items than the limit.
        case tooManyItems(limit: Int)
    }

    public let kind: Kind
    /// Byte offset in the input where the problem was found.
    public let offset: Int

    public init(_ kind: Kind, at offset: Int) {
        self.kind = kind
        self.offset = offset
    }

    public var description: String {
        let what: String =
            switch kind {
            case .truncated: "input ends inside an item"
            case .trailingBytes: "unexpected bytes after the item"
            case .lengthExceedsInput: "declared length exceeds the bytes left"
            case .indefiniteLength: "indefinite-length item"
            case .nonMinimalEncoding: "integer or length not in shortest form"
            case .reservedAdditionalInfo: "reserved additional-information value"
            case .floatNotAllowed: "floating-point number"
            case .simpleValueNotAllowed: "simple value other than false/true/null"
            case .tagNotAllowed(let t): "tag \(t) (only 42 is allowed)"
            case .invalidLink(let why): "invalid CID link: \(why)"
            case .integerOutOfRange: "integer outside the 64-bit signed range"
            case .invalidUTF8: "text is not valid UTF-8"
            case .mapKeyNotText: "map key is not text"
            case .mapKeysNotCanonical: "map keys are not in canonical order"
            case .duplicateMapKey: "duplicate map key"
            case .nestingTooDeep(let l): "nesting deeper than \(l)"
            case .tooManyItems(let l): "more than \(l) items"
            }
        return "DAG-CBOR: \(what) at byte \(offset)"
    }
}
