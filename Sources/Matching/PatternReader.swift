/// A conservative reader of PCRE2 pattern syntax that collects the literal runs every match must
/// contain (see ``RequiredLiteral``). It returns `nil` for any construct it does not model, so a
/// wrong answer can only be "no literal", never a literal the pattern does not require.
struct PatternReader {
    private let p: [Unicode.Scalar]
    private var i = 0
    /// Set by the `caseInsensitive` option or any inline `(?i)`; it then applies to every run, which
    /// is safe: a case-insensitive search accepts more texts, never fewer.
    private(set) var caseInsensitive: Bool

    init(_ pattern: [Unicode.Scalar], caseInsensitive: Bool) {
        p = pattern
        self.caseInsensitive = caseInsensitive
    }

    var atEnd: Bool { i == p.count }

    private func peek(_ offset: Int = 0) -> Unicode.Scalar? {
        i + offset < p.count ? p[i + offset] : nil
    }

    /// What follows an atom.
    private enum Repetition {
        /// No quantifier: the atom occurs exactly once.
        case once
        /// `?`, `*`, `{0,n}`: the atom may be absent.
        case optional
        /// `+`, `{n}`, `{n,}`, `{n,m}` with n ≥ 1: present, possibly repeated.
        case repeated
    }

    /// Reads a concatenation up to an unmatched `)` or the end. Returns the runs it requires: none
    /// when it contains a top-level `|`, `nil` when the syntax is beyond this reader.
    mutating func sequence() -> [[Unicode.Scalar]]? {
        var runs: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        var alternation = false
        func flush() {
            if !current.isEmpty { runs.append(current) }
            current = []
        }
        /// Appends literal characters; a quantifier after them applies to the last one only, and a
        /// repeated character ends the run (what follows it is not adjacent to its first copy).
        func appendLiterals(_ literals: [Unicode.Scalar], then repetition: Repetition) {
            current += literals
            switch repetition {
            case .once: break
            case .optional:
                current.removeLast()
                flush()
            case .repeated: flush()
            }
        }
        while let c = peek(), c != ")" {
            switch c {
            case "|":
                alternation = true
                flush()
                i += 1
            case "(":
                flush()
                guard let inner = group(), let repetition = repetition() else { return nil }
                if repetition != .optional { runs += inner }
            case "[":
                flush()
                guard skipClass(), repetition() != nil else { return nil }
            case ".", "^", "$":
                flush()
                i += 1
                guard repetition() != nil else { return nil }
            case "*", "+", "?", "{":
                return nil  // a quantifier with nothing to repeat: let PCRE2 complain
            case "\\":
                guard let literals = escape(), let repetition = repetition() else { return nil }
                if literals.isEmpty {
                    flush()
                } else {
                    appendLiterals(literals, then: repetition)
                }
            default:
                i += 1
                guard let repetition = repetition() else { return nil }
                appendLiterals([c], then: repetition)
            }
        }
        flush()
        return alternation ? [] : runs
    }

    /// Reads an optional quantifier, with its lazy or possessive suffix; `nil` for a form this
    /// reader does not model (a brace that is not `{n}`, `{n,}` or `{n,m}`).
    private mutating func repetition() -> Repetition? {
        guard let c = peek() else { return .once }
        let result: Repetition
        switch c {
        case "*", "?":
            result = .optional
            i += 1
        case "+":
            result = .repeated
            i += 1
        case "{":
            var j = i + 1
            var minimum = 0
            var digits = 0
            while j < p.count, let d = p[j].asciiDigit {
                minimum = min(minimum * 10 + d, 1_000_000)
                digits += 1
                j += 1
            }
            guard digits > 0, j < p.count else { return nil }
            if p[j] == "," {
                j += 1
                while j < p.count, p[j].asciiDigit != nil { j += 1 }
            }
            guard j < p.count, p[j] == "}" else { return nil }
            i = j + 1
            result = minimum == 0 ? .optional : .repeated
        default:
            return .once
        }
        if let suffix = peek(), suffix == "?" || suffix == "+" { i += 1 }
        return result
    }

    /// Reads a group from its `(` through its `)` and returns the runs it requires (none for
    /// lookarounds), or `nil` for group kinds this reader does not model.
    private mutating func group() -> [[Unicode.Scalar]]? {
        i += 1  // "("
        var contributes = true
        if peek() == "*" { return nil }  // verbs and (*pla:…)-style assertions
        if peek() == "?" {
            i += 1
            guard let kind = peek() else { return nil }
            switch kind {
            case ":", ">", "|":
                i += 1
            case "=", "!":
                i += 1
                contributes = false
            case "<":
                if let next = peek(1), next == "=" || next == "!" {
                    i += 2
                    contributes = false
                } else {
                    guard skipName(closer: ">") else { return nil }
                }
            case "P":
                guard peek(1) == "<" else { return nil }  // (?P=name) and (?P>name) are references
                i += 1
                guard skipName(closer: ">") else { return nil }
            case "'":
                guard skipName(closer: "'") else { return nil }
            default:
                // Inline options: (?i) for the rest of the group, or (?i:…) for a subgroup.
                var turningOn = true
                while let f = peek(), f != ")", f != ":" {
                    switch f {
                    case "-": turningOn = false
                    case "^": turningOn = true
                    case "i": if turningOn { caseInsensitive = true }
                    case "x": return nil
                    case "m", "s", "n", "U", "J": break
                    default: return nil  // recursion, callouts, conditionals, comments, …
                    }
                    i += 1
                }
                guard let end = peek() else { return nil }
                i += 1
                if end == ")" { return [] }  // a setting, not a group: nothing to close
            }
        }
        guard let runs = sequence(), peek() == ")" else { return nil }
        i += 1
        return contributes ? runs : []
    }

    /// Skips `<name>`-style group names, starting on the opening delimiter.
    private mutating func skipName(closer: Unicode.Scalar) -> Bool {
        i += 1
        while let c = peek(), c != closer {
            guard c.properties.isAlphabetic || c.asciiDigit != nil || c == "_" else { return false }
            i += 1
        }
        guard peek() == closer else { return false }
        i += 1
        return true
    }

    /// Skips a character class from its `[` through its `]`.
    private mutating func skipClass() -> Bool {
        i += 1
        if peek() == "^" { i += 1 }
        if peek() == "]" { i += 1 }  // a leading ] is literal
        while let c = peek() {
            switch c {
            case "]":
                i += 1
                return true
            case "\\":
                if peek(1) == "Q" {
                    i += 2
                    skipQuoted()
                } else {
                    i += 2
                }
            case "[" where peek(1) == ":" || peek(1) == "." || peek(1) == "=":
                let delimiter = peek(1)!
                i += 2
                while let d = peek(), !(d == delimiter && peek(1) == "]") { i += 1 }
                guard peek() != nil else { return false }
                i += 2
            default:
                i += 1
            }
        }
        return false
    }

    /// Skips `\Q…` content through its `\E` (or the end), starting after `\Q`.
    private mutating func skipQuoted() {
        while let c = peek(), !(c == "\\" && peek(1) == "E") { i += 1 }
        if peek() != nil { i += 2 }
    }

    /// Reads an escape from its backslash. Returns the literal characters it stands for: one for
    /// an escaped punctuation character, several for `\Q…\E`, none for anything that is not a
    /// plain literal (`\d`, `\b`, `\x41`, back references, …); `nil` for malformed input.
    private mutating func escape() -> [Unicode.Scalar]? {
        i += 1
        guard let c = peek() else { return nil }
        i += 1
        guard c.isASCII, c.properties.isAlphabetic || c.asciiDigit != nil else {
            return [c]  // \. \\ \( \é …: the character itself
        }
        switch c {
        case "Q":
            let start = i
            skipQuoted()
            let end = p[(i - 2)...].starts(with: ["\\", "E"]) ? i - 2 : i
            return Array(p[start..<max(start, end)])
        case "E":
            return []
        case "x", "o", "p", "P", "N", "g", "k":
            if let open = peek(), open == "{" || open == "<" || open == "'" {
                let closer: Unicode.Scalar = open == "{" ? "}" : open == "<" ? ">" : "'"
                while let d = peek(), d != closer { i += 1 }
                guard peek() != nil else { return nil }
                i += 1
            } else if c == "x" {
                var count = 0
                while count < 2, let d = peek(), d.properties.isASCIIHexDigit {
                    i += 1
                    count += 1
                }
            } else if c == "p" || c == "P" {
                guard peek() != nil else { return nil }
                i += 1
            } else if c == "g" {
                if let sign = peek(), sign == "+" || sign == "-" { i += 1 }
                while peek()?.asciiDigit != nil { i += 1 }
            } else if c == "o" || c == "k" {
                return nil
            }
            return []
        case "c":
            guard peek() != nil else { return nil }
            i += 1
            return []
        default:
            if c.asciiDigit != nil {
                while peek()?.asciiDigit != nil { i += 1 }  // back reference or octal
            }
            return []
        }
    }
}

extension Unicode.Scalar {
    fileprivate var asciiDigit: Int? {
        value >= 0x30 && value <= 0x39 ? Int(value - 0x30) : nil
    }
}
