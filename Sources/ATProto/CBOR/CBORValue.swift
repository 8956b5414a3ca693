/// One value of the atproto data model as it is carried in DAG-CBOR (DRISL): the subset of CBOR
/// that atproto allows. Floats, `undefined`, other simple values and other tags do not exist here,
/// so a value can always be encoded canonically.
///
/// Byte and text values decoded from a buffer are slices of that buffer: decoding a frame copies
/// no payload bytes.
public enum CBORValue: Hashable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case bytes(ArraySlice<UInt8>)
    case text(CBORText)
    case array([CBORValue])
    case map(CBORMap)
    case link(CID)
}

extension CBORValue {
    public var isNull: Bool { if case .null = self { true } else { false } }

    public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }

    public var intValue: Int64? { if case .int(let i) = self { i } else { nil } }

    public var textValue: CBORText? { if case .text(let t) = self { t } else { nil } }

    /// The text as a `String` (a copy), or nil when this is not text.
    public var stringValue: String? { if case .text(let t) = self { t.string } else { nil } }

    public var bytesValue: ArraySlice<UInt8>? { if case .bytes(let b) = self { b } else { nil } }

    public var arrayValue: [CBORValue]? { if case .array(let a) = self { a } else { nil } }

    public var mapValue: CBORMap? { if case .map(let m) = self { m } else { nil } }

    public var linkValue: CID? { if case .link(let c) = self { c } else { nil } }

    /// The value under `key` when this is a map; nil otherwise or when the key is absent.
    public subscript(key: String) -> CBORValue? {
        if case .map(let m) = self { m[key] } else { nil }
    }

    /// A short name of the kind of value, for error messages.
    public var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .int: "integer"
        case .bytes: "bytes"
        case .text: "string"
        case .array: "array"
        case .map: "map"
        case .link: "link"
        }
    }
}

extension CBORValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .text(CBORText(value)) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: CBORValue...) { self = .array(elements) }
    public init(nilLiteral: ()) { self = .null }
}

/// A text string known to be valid UTF-8, usually a slice of a decoded buffer.
///
/// Comparing with a `String` compares UTF-8 bytes and allocates nothing; `string` makes a copy.
public struct CBORText: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let utf8: ArraySlice<UInt8>

    /// Wraps bytes that the caller has already validated as UTF-8.
    @usableFromInline
    init(validatedUTF8 utf8: ArraySlice<UInt8>) { self.utf8 = utf8 }

    public init(_ string: String) { self.utf8 = ArraySlice(string.utf8) }

    public var string: String { String(decoding: utf8, as: UTF8.self) }

    public var description: String { string }

    public static func == (lhs: CBORText, rhs: String) -> Bool {
        var rhs = rhs
        return rhs.withUTF8 { r in
            lhs.utf8.withUnsafeBufferPointer { l in
                l.count == r.count && (l.count == 0 || memcmp(l.baseAddress!, r.baseAddress!, l.count) == 0)
            }
        }
    }

    /// DAG-CBOR canonical key order: shorter first, then bytewise.
    public static func < (lhs: CBORText, rhs: CBORText) -> Bool {
        if lhs.utf8.count != rhs.utf8.count { return lhs.utf8.count < rhs.utf8.count }
        return lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
    }
}

/// A DAG-CBOR map: text keys, unique, kept in canonical order (length first, then bytewise).
///
/// Lookups scan linearly: atproto maps have a handful of keys, where a scan beats hashing.
public struct CBORMap: Hashable, Sendable, Sequence {
    public struct Entry: Hashable, Sendable {
        public let key: CBORText
        public let value: CBORValue
    }

    public private(set) var entries: [Entry]

    /// Entries already in canonical order with unique keys (the decoder has checked both).
    @usableFromInline
    init(canonicalEntries: [Entry]) { self.entries = canonicalEntries }

    /// Builds a map from key/value pairs in any order.
    ///
    /// - Precondition: keys are unique (a duplicate key is a programming error, as in `Dictionary`).
    public init(_ pairs: [(String, CBORValue)]) {
        var entries = pairs.map { Entry(key: CBORText($0.0), value: $0.1) }
        entries.sort { $0.key < $1.key }
        for i in entries.indices.dropFirst() {
            precondition(entries[i - 1].key != entries[i].key, "duplicate map key \(entries[i].key)")
        }
        self.entries = entries
    }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }

    public subscript(key: String) -> CBORValue? {
        var key = key
        return key.withUTF8 { k -> CBORValue? in
            for entry in entries where entry.key.utf8.count == k.count {
                let equal = entry.key.utf8.withUnsafeBufferPointer { e in
                    k.count == 0 || memcmp(e.baseAddress!, k.baseAddress!, k.count) == 0
                }
                if equal { return entry.value }
            }
            return nil
        }
    }

    public var keys: [String] { entries.map { $0.key.string } }

    public func makeIterator() -> IndexingIterator<[Entry]> { entries.makeIterator() }

    /// Returns a copy with `key` set to `value` (replacing an existing entry), keeping canonical order.
    public func setting(_ key: String, to value: CBORValue) -> CBORMap {
        let k = CBORText(key)
        var copy = entries
        if let i = copy.firstIndex(where: { $0.key == k }) {
            copy[i] = Entry(key: k, value: value)
        } else {
            let i = copy.firstIndex(where: { k < $0.key }) ?? copy.endIndex
            copy.insert(Entry(key: k, value: value), at: i)
        }
        return CBORMap(canonicalEntries: copy)
    }

    /// Returns a copy without `key`.
    public func removing(_ key: String) -> CBORMap {
        CBORMap(canonicalEntries: entries.filter { !($0.key == key) })
    }
}

extension CBORMap: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, CBORValue)...) { self.init(elements) }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
