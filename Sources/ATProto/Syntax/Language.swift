/// A BCP 47 language tag, such as `en`, `pt-BR` or `zh-Hant`, as used in post `langs` and label
/// locale fields.
///
/// Syntax (Lexicon `language` format): at most 128 characters; either a private-use tag (`x-…`,
/// any case) or a primary language subtag of 2–3 lowercase letters (or the grandfathered `i`)
/// followed by `-`-separated alphanumeric subtags. That is the reference implementations'
/// deliberately loose check; it does not consult the subtag registry.
///
/// On top of it, two rules from RFC 5646 that make a well-formed tag *invalid* are enforced,
/// comparing case-insensitively as BCP 47 does:
/// - a variant subtag may not appear twice (§2.2.5, §4.1 rule 2), e.g. `de-DE-1901-1901`;
/// - an extension singleton may not appear twice (§2.2.6, §4.1 rule 3), e.g. `en-a-foo-a-bar`.
///
/// Everything after a private-use `x` singleton is opaque and exempt from both rules.
public struct Language: Hashable, Sendable, CustomStringConvertible {
    public static let maxLength = 128

    /// The validated input, unchanged (tags are case-insensitive but are passed through as written).
    public let rawValue: String

    public init(_ string: String) throws(SyntaxError) {
        if let reason = Self.violation(in: string) {
            throw SyntaxError(kind: "language", input: string, reason: reason)
        }
        rawValue = string
    }

    public static func isValid(_ string: String) -> Bool {
        violation(in: string) == nil
    }

    public var description: String { rawValue }

    /// The first subtag: the language itself (`pt` in `pt-BR`), or `x`/`i` for private-use and
    /// grandfathered tags.
    public var primarySubtag: String {
        String(rawValue.prefix { $0 != "-" })
    }

    static func violation(in string: String) -> StaticString? {
        SyntaxScan.withBytes(of: string, violation(in:))
    }

    static func violation(in bytes: SyntaxScan.Bytes) -> StaticString? {
        guard !bytes.isEmpty else { return "empty" }
        guard bytes.count <= maxLength else { return "longer than 128 characters" }

        let primaryEnd = SyntaxScan.offset(of: UInt8(ascii: "-"), in: bytes)
        let primary = SyntaxScan.slice(bytes, 0..<primaryEnd)
        let isPrivateUseTag = primary.count == 1 && primary[0] | 0x20 == UInt8(ascii: "x")
        if !isPrivateUseTag {
            let isGrandfatheredPrefix = primary.count == 1 && primary[0] == UInt8(ascii: "i")
            let isLanguageCode = (2...3).contains(primary.count) && primary.allSatisfy(SyntaxScan.isLowercaseLetter)
            guard isGrandfatheredPrefix || isLanguageCode else {
                return "primary language subtag must be 2 or 3 lowercase letters"
            }
        } else if primaryEnd == bytes.count {
            return "private-use tag needs at least one subtag after \"x\""
        }

        var seenSingletons: UInt64 = 0  // one bit per letter or digit, case-folded
        var inExtensions = false
        var isOpaque = isPrivateUseTag  // after a private-use "x", subtags are free-form
        var subtagStart = primaryEnd + 1
        while subtagStart <= bytes.count {
            let subtagEnd = SyntaxScan.offset(of: UInt8(ascii: "-"), in: bytes, from: subtagStart)
            let subtag = SyntaxScan.slice(bytes, subtagStart..<subtagEnd)
            if let reason = subtagViolation(subtag) { return reason }
            if isOpaque {
                // Only the basic subtag syntax applies.
            } else if subtag.count == 1 {
                let singleton = SyntaxScan.lowercased(subtag[0])
                if singleton == UInt8(ascii: "x") {
                    isOpaque = true
                } else {
                    let bit: UInt64 = 1 << (SyntaxScan.isDigit(singleton) ? singleton - 0x30 : singleton - 0x61 + 10)
                    guard seenSingletons & bit == 0 else { return "extension singleton subtag is repeated" }
                    seenSingletons |= bit
                    inExtensions = true
                }
            } else if !inExtensions, isVariant(subtag),
                hasEarlierVariant(equalTo: subtag, in: SyntaxScan.slice(bytes, (primaryEnd + 1)..<subtagStart))
            {
                return "variant subtag is repeated"
            }
            subtagStart = subtagEnd + 1
        }
        return nil
    }

    private static func subtagViolation(_ subtag: SyntaxScan.Bytes) -> StaticString? {
        guard !subtag.isEmpty else { return "empty subtag (leading, trailing or doubled hyphen)" }
        guard subtag.allSatisfy(SyntaxScan.isAlphanumeric) else {
            return "subtags may only contain ASCII letters and digits"
        }
        return nil
    }

    /// RFC 5646 §2.2.5: a variant is 5–8 alphanumerics, or 4 starting with a digit. Before the
    /// first extension nothing else has those shapes (scripts are 4 letters, regions 2 letters or
    /// 3 digits, extended language subtags 3 letters).
    private static func isVariant(_ subtag: SyntaxScan.Bytes) -> Bool {
        (5...8).contains(subtag.count) || (subtag.count == 4 && SyntaxScan.isDigit(subtag[0]))
    }

    /// Whether `earlier` (the `-`-separated subtags after the primary one, with a trailing `-`)
    /// contains a variant equal to `variant`, ignoring case.
    private static func hasEarlierVariant(equalTo variant: SyntaxScan.Bytes, in earlier: SyntaxScan.Bytes) -> Bool {
        var start = 0
        while start < earlier.count {
            let end = SyntaxScan.offset(of: UInt8(ascii: "-"), in: earlier, from: start)
            let subtag = SyntaxScan.slice(earlier, start..<end)
            if isVariant(subtag), SyntaxScan.equalIgnoringCase(subtag, variant) { return true }
            start = end + 1
        }
        return false
    }
}
