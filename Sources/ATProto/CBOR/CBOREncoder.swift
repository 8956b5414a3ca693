/// The canonical DAG-CBOR encoder: shortest forms, definite lengths, map keys in canonical order
/// (`CBORMap` keeps them sorted). Its output is what atproto hashes into CIDs and signs.
public enum CBOREncoder {
    public static func encode(_ value: CBORValue) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(128)
        append(value, to: &out)
        return out
    }

    public static func append(_ value: CBORValue, to out: inout [UInt8]) {
        switch value {
        case .null: out.append(0xf6)
        case .bool(let b): out.append(b ? 0xf5 : 0xf4)
        case .int(let i):
            if i >= 0 { appendHead(0, UInt64(i), to: &out) } else { appendHead(1, UInt64(-1 - i), to: &out) }
        case .bytes(let b):
            appendHead(2, UInt64(b.count), to: &out)
            out.append(contentsOf: b)
        case .text(let t):
            appendHead(3, UInt64(t.utf8.count), to: &out)
            out.append(contentsOf: t.utf8)
        case .array(let a):
            appendHead(4, UInt64(a.count), to: &out)
            for v in a { append(v, to: &out) }
        case .map(let m):
            appendHead(5, UInt64(m.count), to: &out)
            for entry in m.entries {
                appendHead(3, UInt64(entry.key.utf8.count), to: &out)
                out.append(contentsOf: entry.key.utf8)
                append(entry.value, to: &out)
            }
        case .link(let cid):
            out.append(contentsOf: [0xd8, 0x2a])
            var payload: [UInt8] = [0x00]
            cid.appendBytes(to: &payload)
            appendHead(2, UInt64(payload.count), to: &out)
            out.append(contentsOf: payload)
        }
    }

    /// Writes an item head in its shortest form.
    @inlinable
    public static func appendHead(_ major: UInt8, _ argument: UInt64, to out: inout [UInt8]) {
        let m = major << 5
        switch argument {
        case 0..<24:
            out.append(m | UInt8(argument))
        case 24...0xff:
            out.append(m | 24)
            out.append(UInt8(argument))
        case 0x100...0xffff:
            out.append(m | 25)
            withUnsafeBytes(of: UInt16(argument).bigEndian) { out.append(contentsOf: $0) }
        case 0x10000...0xffff_ffff:
            out.append(m | 26)
            withUnsafeBytes(of: UInt32(argument).bigEndian) { out.append(contentsOf: $0) }
        default:
            out.append(m | 27)
            withUnsafeBytes(of: argument.bigEndian) { out.append(contentsOf: $0) }
        }
    }
}
