/// A strict DAG-CBOR (DRISL) decoder.
///
/// It accepts exactly the canonical encoding atproto signs and hashes, and rejects everything else
/// with a typed `CBORError`: shortest integer and length forms, definite lengths, text map keys in
/// canonical order without duplicates, valid UTF-8, tag 42 links only, no floats, no simple values
/// but `false`/`true`/`null`, no trailing bytes. It never traps on input: every length is checked
/// against the bytes left before anything is allocated, and nesting and item counts are bounded.
///
/// Bytes and text in the result are slices of the input (no copies).
public struct CBORDecoder: Sendable {
    /// Bounds that keep hostile input cheap to reject.
    public struct Limits: Sendable, Equatable {
        /// Deepest nesting of arrays and maps. Records nest a few levels (a post's facets are 4
        /// deep); 64 leaves ample room while keeping the recursion's stack use small.
        public var maxDepth: Int
        /// Most items in one decode. A 5 MB frame cannot hold more than 5 M items anyway (one byte
        /// each); the default is a little above that so no legal frame is refused.
        public var maxItems: Int

        public init(maxDepth: Int = 64, maxItems: Int = 6_000_000) {
            self.maxDepth = maxDepth
            self.maxItems = maxItems
        }
    }

    public var limits: Limits

    public init(limits: Limits = Limits()) { self.limits = limits }

    /// Decodes exactly one item that occupies all of `input`.
    public func decode(_ input: ArraySlice<UInt8>) throws(CBORError) -> CBORValue {
        let (value, end) = try decodePrefix(input)
        guard end == input.endIndex else { throw CBORError(.trailingBytes, at: end - input.startIndex) }
        return value
    }

    public func decode(_ input: [UInt8]) throws(CBORError) -> CBORValue {
        try decode(input[...])
    }

    /// Decodes the first item of `input`, returning it and the index just past it.
    ///
    /// Event-stream frames are two items back to back; this reads one at a time.
    public func decodePrefix(_ input: ArraySlice<UInt8>) throws(CBORError) -> (value: CBORValue, end: Int) {
        let limits = limits
        return try input.withUnsafeBytes { raw in
            Result { () throws(CBORError) -> (CBORValue, Int) in
                var reader = Reader(base: input, bytes: raw, limits: limits)
                let value = try reader.value(depth: 0)
                return (value, input.startIndex + reader.offset)
            }
        }.get()
    }
}

/// The decoding state over one contiguous buffer.
@usableFromInline
struct Reader {
    let base: ArraySlice<UInt8>
    let bytes: UnsafeRawBufferPointer
    var offset = 0
    var items = 0
    let maxDepth: Int
    let maxItems: Int

    init(base: ArraySlice<UInt8>, bytes: UnsafeRawBufferPointer, limits: CBORDecoder.Limits) {
        self.base = base
        self.bytes = bytes
        self.maxDepth = limits.maxDepth
        self.maxItems = limits.maxItems
    }

    @inline(__always)
    var remaining: Int { bytes.count - offset }

    @inline(__always)
    func fail(_ kind: CBORError.Kind, at position: Int? = nil) -> CBORError {
        CBORError(kind, at: position ?? offset)
    }

    /// Reads an item head: the major type and its argument, enforcing the shortest form.
    @inline(__always)
    mutating func head() throws(CBORError) -> (major: UInt8, argument: UInt64, start: Int) {
        let start = offset
        guard offset < bytes.count else { throw fail(.truncated) }
        let initial = bytes[offset]
        offset += 1
        let major = initial >> 5
        let info = initial & 0x1f
        if major == 7 {
            // Simple values and floats share major type 7; only false/true/null exist in atproto.
            switch info {
            case 20, 21, 22: return (7, UInt64(info), start)
            case 25, 26, 27: throw fail(.floatNotAllowed, at: start)
            case 31: throw fail(.indefiniteLength, at: start)
            case 28, 29, 30: throw fail(.reservedAdditionalInfo, at: start)
            default: throw fail(.simpleValueNotAllowed, at: start)
            }
        }
        switch info {
        case 0..<24:
            return (major, UInt64(info), start)
        case 24:
            guard remaining >= 1 else { throw fail(.truncated) }
            let v = UInt64(bytes[offset])
            offset += 1
            guard v >= 24 else { throw fail(.nonMinimalEncoding, at: start) }
            return (major, v, start)
        case 25:
            guard remaining >= 2 else { throw fail(.truncated) }
            let v = UInt64(UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
            offset += 2
            guard v > 0xff else { throw fail(.nonMinimalEncoding, at: start) }
            return (major, v, start)
        case 26:
            guard remaining >= 4 else { throw fail(.truncated) }
            let v = UInt64(UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
            offset += 4
            guard v > 0xffff else { throw fail(.nonMinimalEncoding, at: start) }
            return (major, v, start)
        case 27:
            guard remaining >= 8 else { throw fail(.truncated) }
            let v = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            offset += 8
            guard v > 0xffff_ffff else { throw fail(.nonMinimalEncoding, at: start) }
            return (major, v, start)
        case 31:
            throw fail(.indefiniteLength, at: start)
        default:
            throw fail(.reservedAdditionalInfo, at: start)
        }
    }

    @inline(__always)
    func slice(_ start: Int, _ count: Int) -> ArraySlice<UInt8> {
        let s = base.startIndex + start
        return base[s..<(s + count)]
    }

    /// Reads `length` bytes of a byte or text string, after checking they exist.
    @inline(__always)
    mutating func payload(_ length: UInt64, start: Int) throws(CBORError) -> Int {
        guard length <= UInt64(remaining) else { throw fail(.lengthExceedsInput, at: start) }
        let begin = offset
        offset += Int(length)
        return begin
    }

    mutating func value(depth: Int) throws(CBORError) -> CBORValue {
        items += 1
        guard items <= maxItems else { throw fail(.tooManyItems(limit: maxItems)) }
        let (major, argument, start) = try head()
        switch major {
        case 0:
            guard argument <= UInt64(Int64.max) else { throw fail(.integerOutOfRange, at: start) }
            return .int(Int64(argument))
        case 1:
            guard argument <= UInt64(Int64.max) else { throw fail(.integerOutOfRange, at: start) }
            return .int(-1 - Int64(argument))
        case 2:
            let begin = try payload(argument, start: start)
            return .bytes(slice(begin, Int(argument)))
        case 3:
            return .text(try text(argument, start: start))
        case 4:
            guard argument <= UInt64(remaining) else { throw fail(.lengthExceedsInput, at: start) }
            guard depth < maxDepth else { throw fail(.nestingTooDeep(limit: maxDepth), at: start) }
            let count = Int(argument)
            var array = [CBORValue]()
            array.reserveCapacity(count)
            for _ in 0..<count { array.append(try value(depth: depth + 1)) }
            return .array(array)
        case 5:
            guard argument <= UInt64(remaining / 2) else { throw fail(.lengthExceedsInput, at: start) }
            guard depth < maxDepth else { throw fail(.nestingTooDeep(limit: maxDepth), at: start) }
            return .map(try map(count: Int(argument), depth: depth))
        case 6:
            guard argument == 42 else { throw fail(.tagNotAllowed(argument), at: start) }
            return .link(try link())
        default:  // 7
            switch argument {
            case 20: return .bool(false)
            case 21: return .bool(true)
            default: return .null
            }
        }
    }

    @inline(__always)
    mutating func text(_ length: UInt64, start: Int) throws(CBORError) -> CBORText {
        let begin = try payload(length, start: start)
        let raw = UnsafeRawBufferPointer(rebasing: bytes[begin..<offset])
        guard UTF8Validation.isValid(raw) else { throw fail(.invalidUTF8, at: start) }
        return CBORText(validatedUTF8: slice(begin, Int(length)))
    }

    mutating func map(count: Int, depth: Int) throws(CBORError) -> CBORMap {
        var entries = [CBORMap.Entry]()
        entries.reserveCapacity(count)
        var previous: UnsafeRawBufferPointer? = nil
        for _ in 0..<count {
            items += 1
            guard items <= maxItems else { throw fail(.tooManyItems(limit: maxItems)) }
            let keyStart = offset
            let (major, length, start) = try head()
            guard major == 3 else { throw fail(.mapKeyNotText, at: start) }
            let key = try text(length, start: start)
            let keyBytes = UnsafeRawBufferPointer(rebasing: bytes[(offset - Int(length))..<offset])
            if let previous {
                // Canonical order: shorter keys first, then bytewise; equal means duplicate.
                if keyBytes.count < previous.count { throw fail(.mapKeysNotCanonical, at: keyStart) }
                if keyBytes.count == previous.count {
                    let order =
                        keyBytes.count == 0 ? 0 : memcmp(previous.baseAddress!, keyBytes.baseAddress!, keyBytes.count)
                    if order == 0 { throw fail(.duplicateMapKey, at: keyStart) }
                    if order > 0 { throw fail(.mapKeysNotCanonical, at: keyStart) }
                }
            }
            previous = keyBytes
            entries.append(CBORMap.Entry(key: key, value: try value(depth: depth + 1)))
        }
        return CBORMap(canonicalEntries: entries)
    }

    /// Tag 42's content: a byte string holding 0x00 (the multibase "identity" prefix) and a binary CID.
    mutating func link() throws(CBORError) -> CID {
        let (major, length, start) = try head()
        guard major == 2 else { throw fail(.invalidLink("content is not a byte string"), at: start) }
        let begin = try payload(length, start: start)
        guard length >= 1, bytes[begin] == 0x00 else {
            throw fail(.invalidLink("missing the 0x00 multibase prefix"), at: start)
        }
        let cidBytes = UnsafeRawBufferPointer(rebasing: bytes[(begin + 1)..<offset])
        var cursor = 0
        let cid: CID
        do { cid = try CID.read(cidBytes, at: &cursor) } catch {
            throw fail(.invalidLink(error.description), at: start)
        }
        guard cursor == cidBytes.count else { throw fail(.invalidLink("bytes after the CID"), at: start) }
        return cid
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
