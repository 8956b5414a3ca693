/// Checks for label values, applied when rules are loaded so that a bad value is a load error
/// rather than a label the network silently ignores (uppercase letters and spaces are the usual
/// cause of labels that are stored but never shown).
public enum LabelValue {
    /// Longest value accepted, in bytes.
    public static let maxLength = 128

    /// The protocol's global values: the only ones that may start with `!`.
    public static let globalValues: Set<String> = ["!hide", "!warn", "!no-unauthenticated"]

    /// What the Bluesky app does with each global value (the values every client knows without a
    /// definition from the labeler), for warnings when a rule emits one. Values starting with
    /// `!` have a fixed meaning; the others a labeler may redefine for its own labels in
    /// `labels.yaml`.
    public static let globalValueMeanings: [String: String] = [
        "!hide":
            "the app puts the content behind a warning that cannot be clicked through and filters it from listings",
        "!warn": "the app puts the content behind a warning that can be clicked through",
        "!no-unauthenticated": "the app hides the content from logged-out users",
        "porn": "the app treats it as adult content: a media warning only users with adult content enabled can lift",
        "sexual": "the app treats it as adult content: a media warning only users with adult content enabled can lift",
        "graphic-media": "the app treats it as adult content (violence, gore): a media warning only users with adult "
            + "content enabled can lift",
        "nudity": "the app can put the media behind a warning (not adult-only), but by default ignores it",
    ]

    /// The warning for a rule that emits the global value `value`, or `nil` when it is not one.
    /// - Parameter redefined: whether `labels.yaml` defines it (only values without `!` can be).
    static func globalValueWarning(_ value: String, redefined: Bool) -> String? {
        guard !redefined, let meaning = globalValueMeanings[value] else { return nil }
        let rest =
            value.hasPrefix("!")
            ? "its meaning is fixed (values starting with '!' cannot be redefined)"
            : "Bluesky's definition applies unless \(LabelDefinitions.fileName) defines '\(value)' for this labeler"
        return "label '\(value)' is a global value: \(meaning), for everyone subscribed to this labeler; \(rest)"
    }

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
