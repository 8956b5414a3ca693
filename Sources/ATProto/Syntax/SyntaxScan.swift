/// Byte-level helpers shared by the identifier validators.
///
/// Every atproto identifier format is restricted to ASCII, so the validators scan UTF-8 bytes
/// directly: a byte ≥ 0x80 fails every character-class test below, which is exactly what the specs
/// want (non-ASCII input is invalid, never normalised). Validators report a failure as a
/// `StaticString` reason so that rejecting input, like accepting it, allocates nothing.
enum SyntaxScan {
    typealias Bytes = UnsafeBufferPointer<UInt8>

    /// Runs `body` over the string's UTF-8 storage. Native Swift strings are already contiguous,
    /// so this borrows the storage rather than copying it.
    @inline(__always)
    static func withBytes<Result>(of string: String, _ body: (Bytes) -> Result) -> Result {
        var string = string
        return string.withUTF8(body)
    }

    /// The sub-buffer `range` of `bytes`, re-based so that it is indexed from zero.
    @inline(__always)
    static func slice(_ bytes: Bytes, _ range: Range<Int>) -> Bytes {
        Bytes(rebasing: bytes[range])
    }

    /// The offset of the first `byte` at or after `start`, or `bytes.count` if there is none.
    @inline(__always)
    static func offset(of byte: UInt8, in bytes: Bytes, from start: Int = 0) -> Int {
        var index = start
        while index < bytes.count, bytes[index] != byte { index += 1 }
        return index
    }

    @inline(__always)
    static func hasPrefix(_ bytes: Bytes, _ prefix: StaticString) -> Bool {
        let count = prefix.utf8CodeUnitCount
        guard bytes.count >= count else { return false }
        let start = prefix.utf8Start
        for index in 0..<count where bytes[index] != start[index] { return false }
        return true
    }

    @inline(__always) static func isDigit(_ byte: UInt8) -> Bool { byte &- 0x30 < 10 }
    @inline(__always) static func isLowercaseLetter(_ byte: UInt8) -> Bool { byte &- 0x61 < 26 }
    @inline(__always) static func isUppercaseLetter(_ byte: UInt8) -> Bool { byte &- 0x41 < 26 }
    @inline(__always) static func isLetter(_ byte: UInt8) -> Bool { (byte | 0x20) &- 0x61 < 26 }
    @inline(__always) static func isAlphanumeric(_ byte: UInt8) -> Bool { isLetter(byte) || isDigit(byte) }

    /// ASCII lowercase mapping; every other byte is returned unchanged.
    @inline(__always)
    static func lowercased(_ byte: UInt8) -> UInt8 { isUppercaseLetter(byte) ? byte | 0x20 : byte }

    /// Compares two byte runs ignoring ASCII case (BCP 47 subtags are case-insensitive).
    static func equalIgnoringCase(_ lhs: Bytes, _ rhs: Bytes) -> Bool {
        guard lhs.count == rhs.count else { return false }
        for index in 0..<lhs.count where lowercased(lhs[index]) != lowercased(rhs[index]) { return false }
        return true
    }

    /// Returns `string` with ASCII letters lowercased; the string itself when there is nothing to change.
    static func asciiLowercased(_ string: String) -> String {
        guard string.utf8.contains(where: isUppercaseLetter) else { return string }
        return String(unsafeUninitializedCapacity: string.utf8.count) { buffer in
            var count = 0
            for byte in string.utf8 {
                buffer[count] = lowercased(byte)
                count += 1
            }
            return count
        }
    }

    /// Checks one DNS-style label as used by handles and NSID authorities: 1–63 ASCII letters, digits
    /// or hyphens, not starting or ending with a hyphen (RFC 1035 §2.3.1 as relaxed by RFC 1123 §2.1,
    /// which is why a leading digit is fine).
    static func domainLabelViolation(_ label: Bytes) -> StaticString? {
        guard let first = label.first, let last = label.last else {
            return "empty segment (leading, trailing or doubled dot)"
        }
        guard label.count <= 63 else { return "segment longer than 63 characters" }
        guard first != UInt8(ascii: "-"), last != UInt8(ascii: "-") else {
            return "segment starts or ends with a hyphen"
        }
        for byte in label where !(isAlphanumeric(byte) || byte == UInt8(ascii: "-")) {
            return "only ASCII letters, digits, hyphens and dots are allowed"
        }
        return nil
    }
}
