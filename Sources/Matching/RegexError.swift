/// Why one match call gave up. The pattern and the text are fine to use again; only this call
/// failed, so a rule engine logs it against the rule and carries on with the other rules.
public enum RegexError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The match needed more steps than ``RegexLimits/matchLimit``: typically nested quantifiers
    /// backtracking exponentially.
    case matchLimit
    /// Backtracking nested deeper than ``RegexLimits/depthLimit`` (interpreter only).
    case depthLimit
    /// The interpreter needed more heap for backtracking than PCRE2 allows.
    case heapLimit
    /// The JIT-compiled code ran out of its stack (see ``MatchScratch/init(jitStackSize:)``).
    case jitStackLimit
    /// Any other failure PCRE2 reports while matching, with its code and message.
    case matchFailed(code: Int32, message: String)

    public var description: String {
        switch self {
        case .matchLimit: "regex match limit exceeded"
        case .depthLimit: "regex depth limit exceeded"
        case .heapLimit: "regex heap limit exceeded"
        case .jitStackLimit: "regex JIT stack limit exceeded"
        case .matchFailed(let code, let message): "regex match failed (\(code)): \(message)"
        }
    }
}

/// A pattern PCRE2 refused to compile.
///
/// PCRE2 reports where it stopped as a byte offset into the pattern's UTF-8; ``line`` and
/// ``column`` translate it so a rule loader can point at `file:line:column` by adding the position
/// of the pattern inside the rule file.
public struct RegexCompileError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The pattern as given.
    public let pattern: String
    /// PCRE2's explanation, e.g. `missing closing parenthesis`.
    public let message: String
    /// PCRE2's error code (positive for compile errors).
    public let code: Int32
    /// Offset in the pattern's UTF-8 bytes at which PCRE2 detected the error (it may be the end).
    public let byteOffset: Int

    public init(pattern: String, message: String, code: Int32, byteOffset: Int) {
        self.pattern = pattern
        self.message = message
        self.code = code
        self.byteOffset = byteOffset
    }

    /// 1-based line of ``byteOffset`` inside the pattern (patterns in extended mode may span lines).
    public var line: Int { position.line }

    /// 1-based column of ``byteOffset`` inside its line, counted in Unicode scalars (what YAML
    /// parsers and most editors count for the text a rule author sees).
    public var column: Int { position.column }

    /// Number of Unicode scalars of the pattern before ``byteOffset``.
    public var scalarOffset: Int { position.scalars }

    /// Walks the scalars before ``byteOffset`` (PCRE2 offsets fall on scalar boundaries in UTF mode).
    private var position: (line: Int, column: Int, scalars: Int) {
        var line = 1
        var column = 1
        var scalars = 0
        var bytes = 0
        for scalar in pattern.unicodeScalars {
            guard bytes < byteOffset else { break }
            bytes += UTF8.width(scalar)
            scalars += 1
            if scalar == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return (line, column, scalars)
    }

    public var description: String {
        "invalid regex at line \(line), column \(column): \(message)"
    }
}
