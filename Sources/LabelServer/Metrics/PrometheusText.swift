/// The Prometheus text exposition format: names, escaping, sample lines.
enum PrometheusText {
    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`
    static func isValidMetricName(_ name: String) -> Bool {
        isValidName(name, allowColon: true)
    }

    /// `[a-zA-Z_][a-zA-Z0-9_]*`, and not starting with `__` (reserved for Prometheus itself).
    static func isValidLabelName(_ name: String) -> Bool {
        isValidName(name, allowColon: false) && !name.hasPrefix("__")
    }

    private static func isValidName(_ name: String, allowColon: Bool) -> Bool {
        guard let first = name.utf8.first else { return false }
        func isLetter(_ b: UInt8) -> Bool { (b | 0x20) >= UInt8(ascii: "a") && (b | 0x20) <= UInt8(ascii: "z") }
        func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
        func isOther(_ b: UInt8) -> Bool { b == UInt8(ascii: "_") || (allowColon && b == UInt8(ascii: ":")) }
        guard isLetter(first) || isOther(first) else { return false }
        return name.utf8.allSatisfy { isLetter($0) || isDigit($0) || isOther($0) }
    }

    /// HELP text escapes backslash and newline.
    static func escapeHelp(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Label values escape backslash, double quote and newline.
    static func escapeLabelValue(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Integers print without a fraction; non-finite values use Prometheus's spellings.
    static func formatValue(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    static func appendSample(name: String, labels: [(String, String)], value: Double, to out: inout String) {
        out += name
        if !labels.isEmpty {
            out += "{"
            for (i, (key, labelValue)) in labels.enumerated() {
                if i > 0 { out += "," }
                out += key + "=\"" + escapeLabelValue(labelValue) + "\""
            }
            out += "}"
        }
        out += " " + formatValue(value) + "\n"
    }
}
