/// A list file: one keyword or pattern per line. Blank lines and lines whose first non-blank
/// character is `#` are skipped; surrounding whitespace is trimmed.
enum ListFile {
    /// The entries of `text` (read from `path`), each with the position of its first character.
    ///
    /// Lines are cut at `\n` bytes (a `\r` before it is dropped) and trimmed of spaces and tabs
    /// without decoding characters, so a list of a million lines costs one pass over its bytes and
    /// one string per entry.
    static func entries(of text: String, path: String) -> [PatternEntry] {
        var entries: [PatternEntry] = []
        var text = text
        text.withUTF8 { bytes in
            let newline: UInt8 = 0x0A, carriageReturn: UInt8 = 0x0D, space: UInt8 = 0x20, tab: UInt8 = 0x09
            var lineNumber = 0
            var lineStart = 0
            while lineStart < bytes.count {
                lineNumber += 1
                var lineEnd = lineStart
                while lineEnd < bytes.count, bytes[lineEnd] != newline { lineEnd += 1 }
                let next = lineEnd + 1
                if lineEnd > lineStart, bytes[lineEnd - 1] == carriageReturn { lineEnd -= 1 }
                var start = lineStart
                while start < lineEnd, bytes[start] == space || bytes[start] == tab { start += 1 }
                var end = lineEnd
                while end > start, bytes[end - 1] == space || bytes[end - 1] == tab { end -= 1 }
                if start < end, bytes[start] != UInt8(ascii: "#") {
                    entries.append(
                        PatternEntry(
                            text: String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self),
                            location: SourceLocation(file: path, line: lineNumber, column: start - lineStart + 1),
                            scalarMap: nil))
                }
                lineStart = next
            }
        }
        return entries
    }
}
