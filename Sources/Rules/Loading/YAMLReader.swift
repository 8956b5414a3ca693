import Yams

/// Reads one YAML file into a node tree and checks nodes against what a rule file allows,
/// collecting a ``RuleDiagnostic`` for every problem instead of stopping at the first.
struct YAMLReader {
    let source: SourceText
    private(set) var diagnostics: [RuleDiagnostic] = []

    init(source: SourceText) {
        self.source = source
    }

    /// Parses the file. A syntax error ends reading this file (YAML cannot be resynchronised
    /// reliably), so it is the file's only diagnostic; an empty file gives `nil`.
    mutating func compose() -> Node? {
        do {
            return try Yams.compose(yaml: source.text)
        } catch let error as YamlError {
            diagnostics.append(diagnostic(for: error))
        } catch {
            diagnostics.append(RuleDiagnostic(source.location(line: 1, column: 1), "cannot parse YAML: \(error)"))
        }
        return nil
    }

    private func diagnostic(for error: YamlError) -> RuleDiagnostic {
        switch error {
        case .scanner(let context, let problem, let mark, _),
            .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            var message = "YAML syntax error: \(problem)"
            if let context {
                message += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
            }
            return RuleDiagnostic(source.location(of: mark), message)
        case .duplicatedKeysInMapping(let duplicates, let context):
            let key = duplicates.first ?? ""
            return RuleDiagnostic(
                secondOccurrence(of: key, after: context.mark) ?? source.location(of: context.mark),
                "duplicate key '\(key)' (first at line \(context.mark.line), column \(context.mark.column))")
        case .reader(let problem, let offset, _, _):
            return RuleDiagnostic(location(ofByteOffset: offset ?? 0), "cannot read YAML: \(problem)")
        default:
            return RuleDiagnostic(source.location(line: 1, column: 1), "cannot parse YAML: \(error)")
        }
    }

    /// Yams reports a duplicate key at its first occurrence; the mistake is usually the second, so
    /// look for the next `key:` after the first one.
    private func secondOccurrence(of key: String, after mark: Mark) -> SourceLocation? {
        let keyScalars = Array(key.unicodeScalars)
        guard !keyScalars.isEmpty else { return nil }
        var line = mark.line - 1
        var column = mark.column - 1 + keyScalars.count
        while line < source.lines.count {
            let text = source.lines[line]
            while column + keyScalars.count <= text.count {
                if Array(text[column..<column + keyScalars.count]) == keyScalars,
                    column == 0 || " \t{,-'\"".unicodeScalars.contains(text[column - 1])
                {
                    var after = column + keyScalars.count
                    if after < text.count, text[after] == "'" || text[after] == "\"" { after += 1 }
                    while after < text.count, text[after] == " " { after += 1 }
                    if after < text.count, text[after] == ":" {
                        let start =
                            column > 0 && (text[column - 1] == "'" || text[column - 1] == "\"") ? column - 1 : column
                        return source.location(line: line + 1, column: start + 1)
                    }
                }
                column += 1
            }
            line += 1
            column = 0
        }
        return nil
    }

    private func location(ofByteOffset offset: Int) -> SourceLocation {
        var line = 1
        var column = 1
        var bytes = 0
        for scalar in source.text.unicodeScalars {
            if bytes >= offset { break }
            bytes += UTF8.width(scalar)
            if scalar == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return source.location(line: line, column: column)
    }

    // MARK: Diagnostics

    mutating func error(_ node: Node, _ message: String) {
        diagnostics.append(RuleDiagnostic(source.location(of: node), message))
    }

    mutating func error(at location: SourceLocation, _ message: String) {
        diagnostics.append(RuleDiagnostic(location, message))
    }

    func location(of node: Node) -> SourceLocation { source.location(of: node) }

    // MARK: Checked access

    /// A mapping's entries by key, reporting non-string keys, and unknown keys with the closest
    /// allowed one. Returns `nil` (after reporting) when `node` is not a mapping.
    mutating func entries(of node: Node, in context: String, allowed: [String]) -> MappingEntries? {
        guard let mapping = node.mapping else {
            error(node, "\(context) must be a mapping (key: value lines), not \(kindName(of: node))")
            return nil
        }
        var entries = MappingEntries(node: node)
        for (key, value) in mapping {
            guard let name = key.scalar?.string else {
                error(key, "keys in \(context) must be plain words")
                continue
            }
            if allowed.contains(name) {
                entries.values[name] = (key, value)
                entries.order.append(name)
            } else {
                error(key, "unknown key '\(name)' in \(context)" + Suggestion.hint(for: name, in: allowed))
            }
        }
        return entries
    }

    /// The text of a scalar; reports anything else.
    mutating func string(_ node: Node, _ what: String) -> String? {
        guard let scalar = node.scalar else {
            error(node, "\(what) must be a single value, not \(kindName(of: node))")
            return nil
        }
        return scalar.string
    }

    /// One scalar or a sequence of scalars (`on: post` or `on: [post, profile]`), each with its node.
    mutating func strings(_ node: Node, _ what: String) -> [(String, Node)]? {
        if let scalar = node.scalar { return [(scalar.string, node)] }
        guard let sequence = node.sequence else {
            error(node, "\(what) must be a value or a list of values, not \(kindName(of: node))")
            return nil
        }
        var out: [(String, Node)] = []
        for item in sequence {
            if let scalar = item.scalar {
                out.append((scalar.string, item))
            } else {
                error(item, "each entry of \(what) must be a single value, not \(kindName(of: item))")
            }
        }
        return out
    }

    mutating func bool(_ node: Node, _ what: String) -> Bool? {
        guard let scalar = node.scalar, let value = Bool.construct(from: scalar) else {
            error(node, "\(what) must be true or false")
            return nil
        }
        return value
    }

    mutating func int(_ node: Node, _ what: String) -> Int? {
        guard let scalar = node.scalar, let value = Int.construct(from: scalar) else {
            error(node, "\(what) must be a whole number")
            return nil
        }
        return value
    }

    func kindName(of node: Node) -> String {
        switch node {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .scalar(let scalar): scalar.string.isEmpty ? "an empty value" : "'\(scalar.string)'"
        case .alias: "an alias"
        }
    }
}

/// The known keys of a mapping with their key and value nodes, in file order.
struct MappingEntries {
    let node: Node
    var values: [String: (key: Node, value: Node)] = [:]
    var order: [String] = []

    subscript(key: String) -> Node? { values[key]?.value }

    func keyNode(_ key: String) -> Node? { values[key]?.key }

    func contains(_ key: String) -> Bool { values[key] != nil }
}
