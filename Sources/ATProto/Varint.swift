/// Unsigned LEB128 varints, as used by CIDs, multicodec prefixes, CAR sections and capture files.
public enum Varint {
    public enum Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        case truncated
        case overflow
        case nonMinimal

        public var description: String {
            switch self {
            case .truncated: "varint is truncated"
            case .overflow: "varint does not fit in 63 bits"
            case .nonMinimal: "varint is not minimally encoded"
            }
        }
    }

    /// Reads a varint at `offset` in `bytes`, advancing `offset` past it.
    ///
    /// Rejects non-minimal encodings (a trailing `0x00` group), as the multiformats spec requires,
    /// and values above `Int64.max` (9 groups of 7 bits at most).
    @inlinable
    public static func read(_ bytes: UnsafeRawBufferPointer, at offset: inout Int) throws(Error) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        var i = offset
        while true {
            guard i < bytes.count else { throw .truncated }
            let byte = bytes[i]
            i += 1
            if shift == 63 && byte > 0 { throw .overflow }
            value |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 {
                if byte == 0 && shift > 0 { throw .nonMinimal }
                offset = i
                return value
            }
            shift += 7
            if shift > 63 { throw .overflow }
        }
    }

    /// Reads a varint from the start of a byte collection.
    public static func read<Bytes: Collection>(from bytes: Bytes) throws(Error) -> (value: UInt64, length: Int)
    where Bytes.Element == UInt8 {
        let array = Array(bytes)
        return try array.withUnsafeBytes { raw in
            Result { () throws(Error) in
                var offset = 0
                let value = try read(raw, at: &offset)
                return (value, offset)
            }
        }.get()
    }

    public static func encode(_ value: UInt64) -> [UInt8] {
        var out = [UInt8]()
        append(value, to: &out)
        return out
    }

    @inlinable
    public static func append(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }
}
