/// The two DNS messages a handle lookup needs (RFC 1035): a TXT query, and the answer's TXT
/// strings. Pure bytes in, bytes out, so the parser is tested (and fuzzed) without a network.
///
/// The parser treats the answer as hostile: every length is checked against the bytes left, name
/// compression pointers may only point backwards and are followed a bounded number of times.
public enum DNSMessage {
    public static let typeTXT: UInt16 = 16
    public static let classIN: UInt16 = 1

    /// What an answer said.
    public enum Answer: Equatable, Sendable {
        /// The TXT records for the name, each one's character-strings joined (RFC 7208 §3.3).
        case records([String])
        /// NXDOMAIN: the name does not exist.
        case nameDoesNotExist
        /// The server set TC: the answer did not fit in a datagram.
        case truncated
    }

    public struct ParseError: Error, Equatable, Sendable, CustomStringConvertible {
        public let reason: String
        public var description: String { reason }
    }

    /// A recursive TXT query for `name` (dots between labels, no trailing dot needed).
    public static func query(id: UInt16, name: String) throws(ParseError) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        try appendName(name, to: &bytes)
        bytes += [UInt8(typeTXT >> 8), UInt8(typeTXT & 0xFF), UInt8(classIN >> 8), UInt8(classIN & 0xFF)]
        return bytes
    }

    static func appendName(_ name: String, to bytes: inout [UInt8]) throws(ParseError) {
        let trimmed = name.hasSuffix(".") ? String(name.dropLast()) : name
        guard !trimmed.isEmpty, trimmed.utf8.count <= 253 else { throw ParseError(reason: "bad name length") }
        for label in trimmed.split(separator: ".", omittingEmptySubsequences: false) {
            let utf8 = Array(label.utf8)
            guard (1...63).contains(utf8.count) else { throw ParseError(reason: "bad label in \(name)") }
            bytes.append(UInt8(utf8.count))
            bytes += utf8
        }
        bytes.append(0)
    }

    /// Reads the answer to the query `id`. Records of other types (a CNAME on the way, say) are
    /// skipped; RCODEs other than success and NXDOMAIN are errors.
    public static func parseAnswer(_ bytes: [UInt8], id: UInt16) throws(ParseError) -> Answer {
        var reader = Reader(bytes: bytes)
        let messageID = try reader.u16()
        let flags = try reader.u16()
        let questions = try reader.u16()
        let answers = try reader.u16()
        _ = try reader.u16()  // authority
        _ = try reader.u16()  // additional
        guard messageID == id else { throw ParseError(reason: "answer to another query (id \(messageID))") }
        guard flags & 0x8000 != 0 else { throw ParseError(reason: "not a response") }
        if flags & 0x0200 != 0 { return .truncated }
        switch flags & 0x000F {
        case 0: break
        case 3: return .nameDoesNotExist
        case let code: throw ParseError(reason: "server error (RCODE \(code))")
        }
        for _ in 0..<questions {
            try reader.skipName()
            try reader.skip(4)
        }
        var records: [String] = []
        for _ in 0..<answers {
            try reader.skipName()
            let type = try reader.u16()
            let rclass = try reader.u16()
            try reader.skip(4)  // TTL
            let length = Int(try reader.u16())
            let data = Array(try reader.take(length))
            guard type == typeTXT, rclass == classIN else { continue }
            var strings: [UInt8] = []
            var index = 0
            while index < data.count {
                let count = Int(data[index])
                index += 1
                guard count <= data.count - index else { throw ParseError(reason: "TXT string runs past its record") }
                strings += data[index..<index + count]
                index += count
            }
            records.append(String(decoding: strings, as: UTF8.self))
        }
        return .records(records)
    }

    struct Reader {
        let bytes: [UInt8]
        var offset = 0

        mutating func u16() throws(ParseError) -> UInt16 {
            guard bytes.count - offset >= 2 else { throw ParseError(reason: "message ends early") }
            defer { offset += 2 }
            return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
        }

        mutating func skip(_ count: Int) throws(ParseError) {
            guard bytes.count - offset >= count else { throw ParseError(reason: "message ends early") }
            offset += count
        }

        mutating func take(_ count: Int) throws(ParseError) -> ArraySlice<UInt8> {
            guard bytes.count - offset >= count else { throw ParseError(reason: "record runs past the message") }
            defer { offset += count }
            return bytes[offset..<offset + count]
        }

        /// Skips a name where it is written. A compression pointer ends the name in place (two
        /// bytes); where it points is not needed to skip it, but it must point backwards inside
        /// the message, as RFC 1035 requires.
        mutating func skipName() throws(ParseError) {
            var labels = 0
            while true {
                guard offset < bytes.count else { throw ParseError(reason: "name runs past the message") }
                let length = bytes[offset]
                if length & 0xC0 == 0xC0 {
                    guard offset + 1 < bytes.count else { throw ParseError(reason: "name runs past the message") }
                    let target = Int(length & 0x3F) << 8 | Int(bytes[offset + 1])
                    guard target < offset else { throw ParseError(reason: "compression pointer does not point back") }
                    offset += 2
                    return
                }
                guard length & 0xC0 == 0 else { throw ParseError(reason: "reserved label type") }
                offset += 1
                if length == 0 { return }
                labels += 1
                guard labels <= 127 else { throw ParseError(reason: "name has too many labels") }
                try skip(Int(length))
            }
        }
    }
}
