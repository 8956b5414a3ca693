/// A timestamp in the Lexicon `datetime` format, such as `1985-04-12T23:20:50.123Z`: the
/// intersection of RFC 3339 and ISO 8601, with a mandatory timezone.
///
/// Syntax (atproto Lexicon spec, "datetime"): `YYYY-MM-DDTHH:MM:SS`, an optional fraction of 1–20
/// digits after a `.`, then `Z` or `±HH:MM`; uppercase `T` and `Z`; at most 64 characters.
/// Semantics, checked here as well: a real calendar date (leap years included); hour ≤ 23,
/// minute ≤ 59, second ≤ 59, offset ≤ 23:59 (RFC 3339 §5.6 ranges; leap second `60` is refused, as
/// the reference implementations do, since Unix time cannot represent it); `-00:00` is refused
/// (RFC 3339 uses it for "offset unknown", which ISO 8601 does not allow); the instant, after
/// applying the offset, is not before `0000-01-01T00:00:00Z`.
///
/// The received string is kept verbatim (records are signed, so it must not be rewritten); the
/// instant is available as ``unixMicros``. New timestamps are written in the preferred form,
/// `YYYY-MM-DDTHH:MM:SS.sssZ`:
///
/// ```swift
/// let created = try Datetime("1985-04-12T23:20:50.123-07:00")
/// Datetime.format(unixMicros: created.unixMicros)  // "1985-04-13T06:20:50.123Z"
/// ```
public struct Datetime: Hashable, Sendable, Comparable, CustomStringConvertible {
    public static let maxLength = 64

    /// The validated input, unchanged.
    public let rawValue: String
    /// The instant as microseconds since 1970-01-01T00:00:00Z; digits of the fraction beyond
    /// microseconds are dropped (rounding toward the past).
    public let unixMicros: Int64

    public init(_ string: String) throws(SyntaxError) {
        var micros: Int64 = 0
        let reason = SyntaxScan.withBytes(of: string) { Self.violation(in: $0, unixMicros: &micros) }
        if let reason { throw SyntaxError(kind: "datetime", input: string, reason: reason) }
        rawValue = string
        unixMicros = micros
    }

    /// The instant `unixMicros`, written in the preferred form with millisecond precision (see
    /// ``format(unixMicros:)``, including its clamping to years 0000–9999).
    public init(unixMicros micros: Int64) {
        let clamped = min(max(micros, Self.minUnixMicros), Self.maxUnixMicros)
        rawValue = Self.format(unixMicros: clamped)
        unixMicros = Self.floorDivide(clamped, 1000) * 1000
    }

    public static func isValid(_ string: String) -> Bool {
        var micros: Int64 = 0
        return SyntaxScan.withBytes(of: string) { violation(in: $0, unixMicros: &micros) } == nil
    }

    public var description: String { rawValue }

    /// Chronological order; two spellings of the same instant are ordered by their text so that
    /// the order stays consistent with `==`, which compares the text.
    public static func < (lhs: Datetime, rhs: Datetime) -> Bool {
        (lhs.unixMicros, lhs.rawValue) < (rhs.unixMicros, rhs.rawValue)
    }

    // MARK: Formatting

    /// 0000-01-01T00:00:00.000Z, the earliest instant the format can express.
    static let minUnixMicros: Int64 = -62_167_219_200_000_000
    /// 9999-12-31T23:59:59.999999Z, the latest instant with a four-digit year.
    static let maxUnixMicros: Int64 = 253_402_300_799_999_999

    /// Writes `unixMicros` as `YYYY-MM-DDTHH:MM:SS.sssZ`, the form atproto prefers for new data
    /// (UTC, exactly three fraction digits; sub-millisecond digits are dropped toward the past).
    /// Instants outside years 0000–9999 are clamped to that range so that the result always
    /// passes validation.
    public static func format(unixMicros: Int64) -> String {
        let clamped = min(max(unixMicros, minUnixMicros), maxUnixMicros)
        let millis = floorDivide(clamped, 1000)
        let seconds = floorDivide(millis, 1000)
        let days = floorDivide(seconds, 86_400)
        let secondOfDay = Int(seconds - days * 86_400)
        let date = CivilDate(daysSinceEpoch: days)

        return String(unsafeUninitializedCapacity: 24) { buffer in
            func put(_ value: Int, at offset: Int, digits: Int) {
                var value = value
                for position in stride(from: offset + digits - 1, through: offset, by: -1) {
                    buffer[position] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
            }
            put(date.year, at: 0, digits: 4)
            buffer[4] = UInt8(ascii: "-")
            put(date.month, at: 5, digits: 2)
            buffer[7] = UInt8(ascii: "-")
            put(date.day, at: 8, digits: 2)
            buffer[10] = UInt8(ascii: "T")
            put(secondOfDay / 3600, at: 11, digits: 2)
            buffer[13] = UInt8(ascii: ":")
            put(secondOfDay / 60 % 60, at: 14, digits: 2)
            buffer[16] = UInt8(ascii: ":")
            put(secondOfDay % 60, at: 17, digits: 2)
            buffer[19] = UInt8(ascii: ".")
            put(Int(millis - seconds * 1000), at: 20, digits: 3)
            buffer[23] = UInt8(ascii: "Z")
            return 24
        }
    }

    static func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
        let quotient = value / divisor
        return value % divisor < 0 ? quotient - 1 : quotient
    }

    // MARK: Parsing

    /// Checks `bytes` and, when they are valid, stores the instant in `unixMicros`.
    static func violation(in bytes: SyntaxScan.Bytes, unixMicros: inout Int64) -> StaticString? {
        guard bytes.count <= maxLength else { return "longer than 64 characters" }
        guard bytes.count >= 20 else { return "too short for YYYY-MM-DDTHH:MM:SS plus a timezone" }

        // Fixed layout up to the seconds: YYYY-MM-DDTHH:MM:SS
        guard bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else {
            return "date must be YYYY-MM-DD"
        }
        guard bytes[10] == UInt8(ascii: "T") else { return "date and time must be separated by an uppercase 'T'" }
        guard bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":") else {
            return "time must be HH:MM:SS"
        }
        guard let year = number(bytes, at: 0, digits: 4),
            let month = number(bytes, at: 5, digits: 2),
            let day = number(bytes, at: 8, digits: 2)
        else { return "date must be YYYY-MM-DD" }
        guard let hour = number(bytes, at: 11, digits: 2),
            let minute = number(bytes, at: 14, digits: 2),
            let second = number(bytes, at: 17, digits: 2)
        else { return "time must be HH:MM:SS" }

        // Optional fraction: '.' and 1–20 digits; only the first six matter for microseconds.
        var index = 19
        var fractionMicros: Int64 = 0
        if bytes[index] == UInt8(ascii: ".") {
            index += 1
            let fractionStart = index
            while index < bytes.count, SyntaxScan.isDigit(bytes[index]) {
                if index - fractionStart < 6 { fractionMicros = fractionMicros * 10 + Int64(bytes[index] - 0x30) }
                index += 1
            }
            let fractionDigits = index - fractionStart
            guard (1...20).contains(fractionDigits) else { return "fraction must have 1 to 20 digits" }
            for _ in min(fractionDigits, 6)..<6 { fractionMicros *= 10 }
        }

        // Timezone: 'Z' or ±HH:MM, and nothing after it.
        guard index < bytes.count else { return "a timezone ('Z' or ±HH:MM) is required" }
        var offsetSeconds = 0
        switch bytes[index] {
        case UInt8(ascii: "Z"):
            guard index + 1 == bytes.count else { return "unexpected characters after the timezone" }
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard index + 6 == bytes.count, bytes[index + 3] == UInt8(ascii: ":"),
                let offsetHours = number(bytes, at: index + 1, digits: 2),
                let offsetMinutes = number(bytes, at: index + 4, digits: 2)
            else { return "timezone offset must be ±HH:MM" }
            guard offsetHours <= 23, offsetMinutes <= 59 else { return "timezone offset out of range" }
            let magnitude = offsetHours * 3600 + offsetMinutes * 60
            if bytes[index] == UInt8(ascii: "-") {
                guard magnitude != 0 else { return "\"-00:00\" is not allowed; use \"Z\" or \"+00:00\"" }
                offsetSeconds = -magnitude
            } else {
                offsetSeconds = magnitude
            }
        default:
            return "a timezone ('Z' or ±HH:MM) is required"
        }

        guard (1...12).contains(month) else { return "month must be 01–12" }
        guard (1...CivilDate.daysIn(month: month, year: year)).contains(day) else {
            return "day does not exist in that month"
        }
        guard hour <= 23 else { return "hour must be 00–23" }
        guard minute <= 59 else { return "minute must be 00–59" }
        guard second <= 59 else { return "second must be 00–59" }

        let days = CivilDate(year: year, month: month, day: day).daysSinceEpoch
        let seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second - offsetSeconds)
        let micros = seconds * 1_000_000 + fractionMicros
        guard micros >= minUnixMicros else { return "before year 0 once the offset is applied" }
        unixMicros = micros
        return nil
    }

    /// The decimal number in `bytes[offset..<offset + digits]`, or nil if any byte is not a digit.
    private static func number(_ bytes: SyntaxScan.Bytes, at offset: Int, digits: Int) -> Int? {
        var value = 0
        for index in offset..<(offset + digits) {
            let byte = bytes[index]
            guard SyntaxScan.isDigit(byte) else { return nil }
            value = value * 10 + Int(byte - 0x30)
        }
        return value
    }
}
