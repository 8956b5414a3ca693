/// Checks for label values, applied when rules are loaded so that a bad value is a load error
/// rather than a label the network silently ignores (uppercase letters and spaces are the usual
/// cause of labels that are stored but never shown).
public enum LabelValue {
    /// Longest value accepted, in bytes.
    public static let maxLength = 128

    /// The protocol's global values: the only ones that may start with `!`.
    public static let globalValues: Set<String> = ["!hide", "!warn", "!no-unauthenticated"]

    /// Why `value` cannot be used as a label value, or `nil` when it can.
    public static func problem(with value: String) -> String? {
        if value.hasPrefix("!") {
            if globalValues.contains(value) { return nil }
            return "label value '\(value)' is not a global value; only "
                + globalValues.sorted().joined(separator: ", ") + " may start with '!'"
        }
        if value.isEmpty { return "label value is empty" }
        if value.utf8.count > maxLength {
            return "label value is \(value.utf8.count) bytes long; the limit is \(maxLength)"
        }
        if value.utf8.contains(where: {
            !($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) && $0 != UInt8(ascii: "-")
        }) {
            return "invalid label value '\(value)': use lowercase letters a-z and '-' only"
        }
        return nil
    }
}
