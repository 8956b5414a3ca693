/// A timestamp identifier: 13 characters of "base32-sortable" encoding a 64-bit integer made of
/// 53 bits of microseconds since the Unix epoch and a 10-bit clock identifier.
///
/// Syntax (atproto record-key spec, "Timestamp Identifier"): the alphabet is
/// `234567abcdefghijklmnopqrstuvwxyz`, in which character order equals digit order, so comparing
/// two TIDs as strings compares them chronologically (this is why ``Comparable`` uses the string).
/// The first character is limited to `234567abcdefghij` (digit values 0–15) so that the 65 bits
/// that 13 characters can hold fit in a 64-bit integer. Repositories use TIDs for record keys and
/// for the commit `rev`, which must increase.
///
/// ```swift
/// let tid = TID(micros: 1_700_000_000_000_000, clockID: 7)
/// tid.timestampMicros  // 1_700_000_000_000_000
/// tid.clockID          // 7
/// ```
public struct TID: SyntaxType {
    public static let length = 13
    /// Largest timestamp a TID can carry (53 bits of microseconds, about year 2255).
    public static let maxMicros: UInt64 = (1 << 53) - 1
    /// Largest clock identifier (10 bits).
    public static let maxClockID: UInt16 = (1 << 10) - 1

    private static let alphabet: StaticString = "234567abcdefghijklmnopqrstuvwxyz"
    private static let notADigit: UInt8 = 0xFF

    /// Digit value of `byte` in the sortable alphabet (`2`–`7` → 0–5, `a`–`z` → 6–31), or
    /// ``notADigit``.
    @inline(__always)
    private static func digitValue(_ byte: UInt8) -> UInt8 {
        if byte &- UInt8(ascii: "2") < 6 { return byte &- UInt8(ascii: "2") }
        if SyntaxScan.isLowercaseLetter(byte) { return byte &- UInt8(ascii: "a") &+ 6 }
        return notADigit
    }

    /// The validated input, unchanged.
    public let rawValue: String

    public init(_ string: String) throws(SyntaxError) {
        if let reason = Self.violation(in: string) {
            throw SyntaxError(kind: "TID", input: string, reason: reason)
        }
        rawValue = string
    }

    init(unchecked string: String) {
        rawValue = string
    }

    /// Encodes a timestamp and clock identifier.
    ///
    /// - Parameters:
    ///   - micros: Microseconds since the Unix epoch; must be at most ``maxMicros``.
    ///   - clockID: A per-writer value that keeps TIDs made in the same microsecond distinct;
    ///     must be at most ``maxClockID``.
    public init(micros: UInt64, clockID: UInt16) {
        precondition(micros <= Self.maxMicros, "TID timestamp exceeds 53 bits")
        precondition(clockID <= Self.maxClockID, "TID clock identifier exceeds 10 bits")
        let value = micros << 10 | UInt64(clockID)
        let alphabet = Self.alphabet.utf8Start
        rawValue = String(unsafeUninitializedCapacity: Self.length) { buffer in
            for position in 0..<Self.length {
                let shift = UInt64(5 * (Self.length - 1 - position))
                buffer[position] = alphabet[Int(value >> shift & 31)]
            }
            return Self.length
        }
    }

    /// The 64-bit integer the string encodes: Σ digitᵢ · 32^(12−i).
    public var value: UInt64 {
        var value: UInt64 = 0
        for byte in rawValue.utf8 {
            value = value << 5 | UInt64(Self.digitValue(byte))
        }
        return value
    }

    /// Microseconds since the Unix epoch (bits 10…62).
    public var timestampMicros: UInt64 { value >> 10 & Self.maxMicros }

    /// The clock identifier (the low 10 bits).
    public var clockID: UInt16 { UInt16(truncatingIfNeeded: value & UInt64(Self.maxClockID)) }

    public static func violation(in string: String) -> StaticString? {
        SyntaxScan.withBytes(of: string, violation(in:))
    }

    static func violation(in bytes: SyntaxScan.Bytes) -> StaticString? {
        guard bytes.count == length else { return "must be exactly 13 characters" }
        for byte in bytes where digitValue(byte) == notADigit {
            return "only the characters 234567abcdefghijklmnopqrstuvwxyz are allowed"
        }
        guard digitValue(bytes[0]) < 16 else { return "first character must be one of 234567abcdefghij" }
        return nil
    }
}
