/// Literals one of which every match of a pattern contains, for patterns built around a group of
/// plain alternatives, such as `\b(?:airdrop|giveaway|presale)\s+now\b`: the regex then runs only
/// on texts where the keyword automaton saw one of them.
///
/// ``PCRE2Regex/prefilter`` finds a single required literal and rightly gives up on alternations;
/// word-list regexes are common in moderation rules, so this covers the most common shape and
/// nothing more. The reading is conservative: the pattern must have no `|` outside groups, and the
/// group chosen must be a plain or non-capturing group that is not optional (no `?`, `*` or `{0`
/// after it), whose alternatives are all non-empty runs of ASCII letters, digits, spaces and
/// escaped punctuation. Anything else (classes, quantifiers, escapes such as `\d`, nested groups,
/// `\Q…\E`, extended mode) gives `nil`.
enum AlternationLiterals {
    static func extract(from pattern: String) -> [String]? {
        let scalars = Array(pattern.unicodeScalars)
        if pattern.contains("\\Q") || pattern.hasPrefix("(?x") { return nil }
        var index = 0
        var depth = 0
        var groupStart: Int?
        var inClass = false
        var found: [String]?
        while index < scalars.count {
            let scalar = scalars[index]
            if scalar == "\\" {
                index += 2
                continue
            }
            if inClass {
                if scalar == "]" { inClass = false }
                index += 1
                continue
            }
            switch scalar {
            case "[":
                inClass = true
                // A `]` right after `[` or `[^` is a literal member.
                if index + 1 < scalars.count, scalars[index + 1] == "]" { index += 1 }
                if index + 2 < scalars.count, scalars[index + 1] == "^", scalars[index + 2] == "]" { index += 2 }
            case "(":
                if depth == 0 { groupStart = index }
                depth += 1
            case ")":
                depth -= 1
                if depth < 0 { return nil }
                if depth == 0, found == nil, let start = groupStart {
                    let next = index + 1 < scalars.count ? scalars[index + 1] : " "
                    let optional =
                        next == "?" || next == "*"
                        || (next == "{" && index + 2 < scalars.count && scalars[index + 2] == "0")
                    if !optional { found = alternatives(Array(scalars[(start + 1)..<index])) }
                }
            case "|":
                if depth == 0 { return nil }
            default:
                break
            }
            index += 1
        }
        guard depth == 0, !inClass else { return nil }
        return found
    }

    /// The alternatives of a group's body, or `nil` when the group is not a plain alternation of
    /// literals.
    private static func alternatives(_ body: [Unicode.Scalar]) -> [String]? {
        var body = body[...]
        if body.starts(with: ["?", ":"]) {
            body = body.dropFirst(2)
        } else if body.first == "?" {
            return nil  // lookaround, named group, inline options, …
        }
        var results: [String] = []
        var current = String.UnicodeScalarView()
        var index = body.startIndex
        func finish() -> Bool {
            guard current.contains(where: { $0 != " " }) else { return false }
            results.append(String(current))
            current = String.UnicodeScalarView()
            return true
        }
        while index < body.endIndex {
            let scalar = body[index]
            switch scalar {
            case "|":
                guard finish() else { return nil }
            case "\\":
                let next = body.index(after: index)
                guard next < body.endIndex else { return nil }
                let escaped = body[next]
                // Only escaped punctuation is a literal (`\.`, `\-`); `\d`, `\b`, `\s` are not.
                guard escaped.isASCII, !escaped.properties.isAlphabetic, !("0"..."9").contains(escaped) else {
                    return nil
                }
                current.append(escaped)
                index = next
            default:
                guard scalar.isASCII,
                    scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == " " || scalar == "_"
                        || scalar == "-" || scalar == "'"
                else { return nil }
                current.append(scalar)
            }
            index = body.index(after: index)
        }
        guard finish(), results.count > 1 else { return nil }
        return results
    }
}
