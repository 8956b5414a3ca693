/// The atproto data model in JSON: `{"$link": cid}` for links, `{"$bytes": base64}` for bytes,
/// blobs as `{"$type": "blob", "ref", "mimeType", "size"}`. Used for Jetstream events, records given
/// on the command line, and label output.
///
/// Parsing is strict RFC 8259 JSON and then the data-model rules (`data-model-invalid.json`):
/// numbers must be integers (an integral float such as `123.0` is read as an integer), `$link`
/// and `$bytes` objects have exactly that one key of the right type, `$type` is a non-empty string,
/// and a blob has a link `ref`, a string `mimeType` and an integer `size`.
public enum DataModelJSON {
    public struct Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        public let reason: String
        /// Byte offset in the input, when the problem is one of JSON syntax.
        public let offset: Int?
        public var description: String {
            offset.map { "JSON: \(reason) at byte \($0)" } ?? "JSON data model: \(reason)"
        }
    }

    /// Deepest nesting accepted; as for DAG-CBOR, far above any real record.
    public static let maxDepth = 64

    /// Parses a JSON object as a data-model value.
    public static func parseObject(_ text: String) throws(Error) -> CBORValue {
        let value = try parse(text)
        guard case .map = value else { throw Error(reason: "top level is not an object", offset: nil) }
        return value
    }

    /// Parses any JSON value as a data-model value.
    public static func parse(_ text: String) throws(Error) -> CBORValue {
        var text = text
        return try text.withUTF8 { buffer in
            Result { () throws(Error) -> CBORValue in
                var parser = JSONParser(bytes: UnsafeRawBufferPointer(buffer))
                let value = try parser.parseDocument()
                return try interpret(value, depth: 0)
            }
        }.get()
    }

    /// Applies the data-model conventions to a plain JSON tree.
    static func interpret(_ value: JSONValue, depth: Int) throws(Error) -> CBORValue {
        switch value {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .string(let s): return .text(CBORText(s))
        case .array(let items):
            var out = [CBORValue]()
            out.reserveCapacity(items.count)
            for item in items { out.append(try interpret(item, depth: depth + 1)) }
            return .array(out)
        case .object(let pairs):
            if let link = pairs.first(where: { $0.0 == "$link" }) {
                guard pairs.count == 1 else { throw Error(reason: "$link object has other fields", offset: nil) }
                guard case .string(let s) = link.1 else { throw Error(reason: "$link is not a string", offset: nil) }
                do { return .link(try CID(string: s)) } catch { throw Error(reason: "$link: \(error)", offset: nil) }
            }
            if let bytes = pairs.first(where: { $0.0 == "$bytes" }) {
                guard pairs.count == 1 else { throw Error(reason: "$bytes object has other fields", offset: nil) }
                guard case .string(let s) = bytes.1, let decoded = Base64.decode(s) else {
                    throw Error(reason: "$bytes is not a base64 string", offset: nil)
                }
                return .bytes(decoded[...])
            }
            var seen = Set<String>()
            var out = [(String, CBORValue)]()
            out.reserveCapacity(pairs.count)
            for (key, item) in pairs {
                guard seen.insert(key).inserted else { throw Error(reason: "duplicate key \"\(key)\"", offset: nil) }
                out.append((key, try interpret(item, depth: depth + 1)))
            }
            let map = CBORMap(out)
            if let type = map["$type"] {
                guard let t = type.stringValue, !t.isEmpty else {
                    throw Error(reason: "$type is not a non-empty string", offset: nil)
                }
                if t == "blob" { try checkBlob(map) }
            }
            return .map(map)
        }
    }

    static func checkBlob(_ map: CBORMap) throws(Error) {
        guard map["ref"]?.linkValue != nil else { throw Error(reason: "blob has no link 'ref'", offset: nil) }
        guard map["mimeType"]?.stringValue != nil else {
            throw Error(reason: "blob has no string 'mimeType'", offset: nil)
        }
        guard let size = map["size"]?.intValue, size >= 0 else {
            throw Error(reason: "blob has no integer 'size'", offset: nil)
        }
    }

    // MARK: Writing

    /// Renders a data-model value as compact JSON (map keys in the value's canonical order).
    public static func serialize(_ value: CBORValue) -> String {
        var out = [UInt8]()
        out.reserveCapacity(256)
        write(value, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func write(_ value: CBORValue, to out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i): out.append(contentsOf: String(i).utf8)
        case .text(let t): writeString(t.utf8, to: &out)
        case .bytes(let b):
            out.append(contentsOf: #"{"$bytes":"#.utf8)
            writeString(Array(Base64.encode(b).utf8)[...], to: &out)
            out.append(UInt8(ascii: "}"))
        case .link(let cid):
            out.append(contentsOf: #"{"$link":"#.utf8)
            writeString(Array(cid.string.utf8)[...], to: &out)
            out.append(UInt8(ascii: "}"))
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(item, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .map(let m):
            out.append(UInt8(ascii: "{"))
            for (i, entry) in m.entries.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                writeString(entry.key.utf8, to: &out)
                out.append(UInt8(ascii: ":"))
                write(entry.value, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Writes a JSON string, escaping quotes, backslashes and control characters.
    public static func writeString(_ utf8: ArraySlice<UInt8>, to out: inout [UInt8]) {
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for b in utf8 {
            switch b {
            case UInt8(ascii: "\""): out.append(contentsOf: [92, 34])
            case UInt8(ascii: "\\"): out.append(contentsOf: [92, 92])
            case 0x0a: out.append(contentsOf: [92, UInt8(ascii: "n")])
            case 0x0d: out.append(contentsOf: [92, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [92, UInt8(ascii: "t")])
            case 0..<0x20:
                out.append(contentsOf: [92, UInt8(ascii: "u"), 48, 48, hex[Int(b >> 4)], hex[Int(b & 15)]])
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// A JSON string literal for `s`.
    public static func quote(_ s: String) -> String {
        var out = [UInt8]()
        writeString(Array(s.utf8)[...], to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}

/// Plain JSON, before the data-model conventions are applied.
enum JSONValue {
    case null
    case bool(Bool)
    case int(Int64)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])
}

/// A strict RFC 8259 parser over UTF-8 bytes (the input is a Swift `String`, so already valid UTF-8).
struct JSONParser {
    let bytes: UnsafeRawBufferPointer
    var i = 0

    init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    func fail(_ reason: String) -> DataModelJSON.Error { DataModelJSON.Error(reason: reason, offset: i) }

    mutating func parseDocument() throws(DataModelJSON.Error) -> JSONValue {
        let value = try parseValue(depth: 0)
        skipWhitespace()
        guard i == bytes.count else { throw fail("unexpected text after the value") }
        return value
    }

    mutating func skipWhitespace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0a || bytes[i] == 0x0d || bytes[i] == 0x09 { i += 1 }
    }

    mutating func literal(_ word: String, _ value: JSONValue) throws(DataModelJSON.Error) -> JSONValue {
        for c in word.utf8 {
            guard i < bytes.count, bytes[i] == c else { throw fail("invalid literal") }
            i += 1
        }
        return value
    }

    mutating func parseValue(depth: Int) throws(DataModelJSON.Error) -> JSONValue {
        guard depth <= DataModelJSON.maxDepth else { throw fail("nesting deeper than \(DataModelJSON.maxDepth)") }
        skipWhitespace()
        guard i < bytes.count else { throw fail("unexpected end of input") }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            i += 1
            var pairs = [(String, JSONValue)]()
            skipWhitespace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
                i += 1
                return .object(pairs)
            }
            while true {
                skipWhitespace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                let key = try parseString()
                skipWhitespace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                i += 1
                pairs.append((key, try parseValue(depth: depth + 1)))
                skipWhitespace()
                guard i < bytes.count else { throw fail("unexpected end of input in an object") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(pairs) }
                throw fail("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            i += 1
            var items = [JSONValue]()
            skipWhitespace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
                i += 1
                return .array(items)
            }
            while true {
                items.append(try parseValue(depth: depth + 1))
                skipWhitespace()
                guard i < bytes.count else { throw fail("unexpected end of input in an array") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                throw fail("expected ',' or ']'")
            }
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        default:
            return .int(try parseNumber())
        }
    }

    mutating func parseNumber() throws(DataModelJSON.Error) -> Int64 {
        let start = i
        var negative = false
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") { negative = true; i += 1 }
        guard i < bytes.count, bytes[i] >= 48 && bytes[i] <= 57 else { throw fail("invalid value") }
        if bytes[i] == 48, i + 1 < bytes.count, bytes[i + 1] >= 48 && bytes[i + 1] <= 57 {
            throw fail("leading zero in a number")
        }
        var magnitude: UInt64 = 0
        var overflow = false
        while i < bytes.count, bytes[i] >= 48 && bytes[i] <= 57 {
            let (m1, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (m2, o2) = m1.addingReportingOverflow(UInt64(bytes[i] - 48))
            overflow = overflow || o1 || o2
            magnitude = m2
            i += 1
        }
        // A fraction or exponent is allowed only when the value is still an integer (`123.0`).
        var fractionNonZero = false
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            guard i < bytes.count, bytes[i] >= 48 && bytes[i] <= 57 else { throw fail("invalid number") }
            while i < bytes.count, bytes[i] >= 48 && bytes[i] <= 57 {
                if bytes[i] != 48 { fractionNonZero = true }
                i += 1
            }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i = start
            throw fail("numbers with exponents are not allowed in the data model")
        }
        guard !fractionNonZero else {
            i = start
            throw fail("floating-point numbers are not allowed in the data model")
        }
        guard !overflow else { i = start; throw fail("integer out of the 64-bit range") }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { i = start; throw fail("integer out of the 64-bit range") }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { i = start; throw fail("integer out of the 64-bit range") }
        return Int64(magnitude)
    }

    mutating func parseString() throws(DataModelJSON.Error) -> String {
        i += 1  // opening quote
        let start = i
        // Fast path: no escapes.
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
                i += 1
                return s
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw fail("control character in a string") }
            i += 1
        }
        var out = [UInt8](UnsafeRawBufferPointer(rebasing: bytes[start..<i]))
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                i += 1
                return String(decoding: out, as: UTF8.self)
            }
            if b < 0x20 { throw fail("control character in a string") }
            if b != UInt8(ascii: "\\") {
                out.append(b)
                i += 1
                continue
            }
            i += 1
            guard i < bytes.count else { break }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""): out.append(34)
            case UInt8(ascii: "\\"): out.append(92)
            case UInt8(ascii: "/"): out.append(47)
            case UInt8(ascii: "b"): out.append(8)
            case UInt8(ascii: "f"): out.append(12)
            case UInt8(ascii: "n"): out.append(10)
            case UInt8(ascii: "r"): out.append(13)
            case UInt8(ascii: "t"): out.append(9)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if scalar >= 0xD800 && scalar < 0xDC00 {
                    guard i + 1 < bytes.count, bytes[i] == 92, bytes[i + 1] == UInt8(ascii: "u") else {
                        throw fail("unpaired surrogate escape")
                    }
                    i += 2
                    let low = try hex4()
                    guard low >= 0xDC00 && low < 0xE000 else { throw fail("unpaired surrogate escape") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if scalar >= 0xDC00 && scalar < 0xE000 {
                    throw fail("unpaired surrogate escape")
                }
                out.append(contentsOf: Array(String(Character(Unicode.Scalar(scalar)!)).utf8))
            default:
                throw fail("invalid escape")
            }
        }
        throw fail("unterminated string")
    }

    mutating func hex4() throws(DataModelJSON.Error) -> UInt32 {
        guard i + 4 <= bytes.count else { throw fail("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[i]
            let d: UInt32
            switch c {
            case 48...57: d = UInt32(c - 48)
            case 97...102: d = UInt32(c - 87)
            case 65...70: d = UInt32(c - 55)
            default: throw fail("invalid \\u escape")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }
}
