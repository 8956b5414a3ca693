/// A duration written in a rule file: a whole number and one unit, `30s`, `10m`, `24h` or `7d`.
public struct RuleDuration: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The length in microseconds (the unit of ``RecordContext/time``).
    public let microseconds: Int64
    /// The text as written.
    public let text: String

    /// Longest duration accepted: ten years, far beyond any label expiry or counting window.
    public static let maxMicroseconds: Int64 = 10 * 366 * 86_400 * 1_000_000

    /// Parses `30s`, `10m`, `24h` or `7d`; `nil` for anything else, zero, or more than ten years.
    public init?(_ text: String) {
        guard let unit = text.last, let count = Int64(text.dropLast()), count > 0,
            text.first?.isNumber == true
        else { return nil }
        let seconds: Int64
        switch unit {
        case "s": seconds = 1
        case "m": seconds = 60
        case "h": seconds = 3_600
        case "d": seconds = 86_400
        default: return nil
        }
        guard count <= Self.maxMicroseconds / (seconds * 1_000_000) else { return nil }
        microseconds = count * seconds * 1_000_000
        self.text = text
    }

    public var description: String { text }

    public static func < (lhs: RuleDuration, rhs: RuleDuration) -> Bool { lhs.microseconds < rhs.microseconds }
}
