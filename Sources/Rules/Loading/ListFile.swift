/// A list file: one keyword or pattern per line. Blank lines and lines whose first non-blank
/// character is `#` are skipped; surrounding whitespace is trimmed.
enum ListFile {
    /// The entries of `text` (read from `path`), each with the position of its first character.
    static func entries(of text: String, path: String) -> [PatternEntry] {
        var entries: [PatternEntry] = []
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            let leading = line.unicodeScalars.prefix(while: { $0 == " " || $0 == "\t" }).count
            var entry = Substring(line.unicodeScalars.dropFirst(leading))
            while let last = entry.unicodeScalars.last, last == " " || last == "\t" {
                entry = Substring(entry.unicodeScalars.dropLast())
            }
            if entry.isEmpty || entry.hasPrefix("#") { continue }
            let row = lineNumber
            let column = leading + 1
            entries.append(
                PatternEntry(
                    text: String(entry),
                    location: SourceLocation(file: path, line: row, column: column),
                    position: { SourceLocation(file: path, line: row, column: column + $0) }))
        }
        return entries
    }
}
