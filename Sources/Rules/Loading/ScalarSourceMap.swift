import Yams

/// Finds where each character of a YAML scalar's value was written in the file, so that an error
/// at an offset inside a value (a regex that does not compile) points at the exact character.
///
/// The value is aligned with the source text from the scalar's start mark: quotes, escape
/// sequences (`\\`, `\x41`, `''`), block indentation and folded line breaks are stepped over,
/// every other source character is the next character of the value.
///
/// A class, so that a ``PatternEntry`` stays small: a list of a million entries carries none.
final class ScalarSourceMap {
    private let source: SourceText
    private let start: Mark?
    private let style: Node.Scalar.Style
    private let value: [Unicode.Scalar]

    init(source: SourceText, scalar: Node.Scalar) {
        self.source = source
        start = scalar.mark
        style = scalar.style
        value = Array(scalar.string.unicodeScalars)
    }

    /// The position of the value's `offset`-th Unicode scalar (`offset == count` is the position
    /// just after the last one, where "unexpected end" errors point).
    func location(ofScalar offset: Int) -> SourceLocation {
        guard let start else { return source.location(line: 1, column: 1) }
        let lines = source.lines
        var line = start.line - 1
        var column = start.column - 1
        var blockIndent = 0
        func lineCount(_ l: Int) -> Int { l < lines.count ? lines[l].count : 0 }
        func here() -> SourceLocation { source.location(line: line + 1, column: column + 1) }
        func skipIndentation() {
            guard line < lines.count else { return }
            if style == .literal || style == .folded {
                var skipped = 0
                while skipped < blockIndent, column < lines[line].count, lines[line][column] == " " {
                    column += 1
                    skipped += 1
                }
            } else {
                while column < lines[line].count, lines[line][column] == " " || lines[line][column] == "\t" {
                    column += 1
                }
            }
        }
        func nextLine() {
            line += 1
            column = 0
            skipIndentation()
        }

        switch style {
        case .singleQuoted, .doubleQuoted:
            column += 1
        case .literal, .folded:
            // Content starts on the line after the indicator; its indentation is that of the first
            // non-empty line.
            var probe = line + 1
            while probe < lines.count, lines[probe].allSatisfy({ $0 == " " }) { probe += 1 }
            if probe < lines.count { blockIndent = lines[probe].prefix(while: { $0 == " " }).count }
            nextLine()
        default:
            break
        }

        var index = 0
        while line < lines.count {
            if index == offset || index >= value.count { return here() }
            let wanted = value[index]
            if column >= lineCount(line) {
                // A line break in the source: the value holds a newline or a folded space here, or
                // nothing (a break folded away before an empty line, or an escaped break).
                if wanted == "\n" || wanted == " " {
                    index += 1
                    if index == offset {
                        nextLine()
                        return here()
                    }
                }
                nextLine()
                continue
            }
            let character = lines[line][column]
            if style == .doubleQuoted, character == "\\" {
                let escape = column + 1 < lineCount(line) ? lines[line][column + 1] : "\n"
                if escape == "\n" {  // an escaped line break: no value character
                    nextLine()
                    continue
                }
                let length: Int
                switch escape {
                case "x": length = 4
                case "u": length = 6
                case "U": length = 10
                default: length = 2
                }
                column += length
                index += 1
                continue
            }
            if style == .singleQuoted, character == "'", column + 1 < lineCount(line), lines[line][column + 1] == "'" {
                column += 2
                index += 1
                continue
            }
            column += 1
            if character == wanted { index += 1 }
        }
        return source.location(line: lines.count, column: 1)
    }
}
