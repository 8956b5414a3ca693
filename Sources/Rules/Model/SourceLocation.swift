/// A place in a rule or list file: 1-based line and column, columns counted in Unicode scalars
/// (as YAML parsers and most editors count them).
public struct SourceLocation: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The file's path as the loader was given it (the rules folder joined with the relative path).
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line:column`.
    public var description: String { "\(file):\(line):\(column)" }

    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        (lhs.file, lhs.line, lhs.column) < (rhs.file, rhs.line, rhs.column)
    }
}

/// One problem found while loading a rule set, printed as `file:line:column: message` (an error)
/// or `file:line:column: warning: message`.
public struct RuleDiagnostic: Hashable, Sendable, CustomStringConvertible {
    /// Errors stop the set from loading; warnings point out something the operator may not
    /// intend, and the set loads.
    public enum Severity: Hashable, Sendable {
        case error
        case warning
    }

    public var location: SourceLocation
    public var message: String
    public var severity: Severity

    public init(_ location: SourceLocation, _ message: String, severity: Severity = .error) {
        self.location = location
        self.message = message
        self.severity = severity
    }

    public var description: String {
        severity == .warning ? "\(location): warning: \(message)" : "\(location): \(message)"
    }
}

/// A rule set that could not be loaded, with every problem found (not just the first): loading is
/// all-or-nothing, so the operator fixes them all and tries again.
public struct RuleLoadError: Error, Sendable, CustomStringConvertible {
    /// The problems, ordered by file, line and column.
    public let diagnostics: [RuleDiagnostic]

    public init(diagnostics: [RuleDiagnostic]) {
        self.diagnostics = diagnostics.sorted { ($0.location, $0.message) < ($1.location, $1.message) }
    }

    /// One line per problem.
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
