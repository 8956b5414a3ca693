/// Compile-time switches of a ``PCRE2Regex``.
///
/// Every pattern is compiled for UTF-8 with Unicode properties (`PCRE2_UTF | PCRE2_UCP`), so `\w`,
/// `\d`, `\b` and POSIX classes follow Unicode and `.` matches a whole code point. The options here
/// are the ones a rule file may turn on; all are off by default, as in Perl.
public struct RegexOptions: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8

    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Letters match in any case, with Unicode simple case folding (`É` matches `é`).
    public static let caseInsensitive = RegexOptions(rawValue: 1 << 0)
    /// `^` and `$` also match at line breaks inside the text, not only at its ends.
    public static let multiline = RegexOptions(rawValue: 1 << 1)
    /// `.` also matches a line break.
    public static let dotAll = RegexOptions(rawValue: 1 << 2)
    /// Whitespace in the pattern is ignored and `#` starts a comment, for long commented patterns.
    public static let extended = RegexOptions(rawValue: 1 << 3)
}

/// Bounds on the work one match may do, so that one rule with a pathological pattern cannot stall
/// the pipeline. Hitting a bound is a ``RegexError`` for that match, never a crash or a hang.
///
/// The defaults are sized for atproto record text: a post is at most 3 000 bytes, a profile
/// description about 2 560 graphemes. Linear patterns need a few steps per byte there, so they stay
/// far below the defaults, while an exponential pattern (`(a+)+$` on forty `a` and a `b`) gives up
/// after a few tenths of a millisecond (0.1–0.3 ms measured under the JIT) instead of running for
/// years.
public struct RegexLimits: Sendable, Hashable {
    /// Maximum number of internal matching steps (PCRE2's `match_limit`: backtracking points, JIT
    /// included) for one match call. PCRE2's own default is 10 000 000, which lets a single
    /// catastrophic pattern burn tens of milliseconds per record; `100_000` fails such a match in
    /// well under a millisecond and is still far above what linear patterns use on a 3 KB text.
    public var matchLimit: UInt32
    /// Maximum nesting of backtracking points in the interpreter (PCRE2's `depth_limit`), which also
    /// bounds its heap use. The JIT ignores it and is bounded by its stack instead (see
    /// ``MatchScratch``). `10_000` leaves room for a repeated group that backtracks once per byte of
    /// a 3 KB text, at a worst-case heap of a few megabytes.
    public var depthLimit: UInt32

    public init(matchLimit: UInt32 = 100_000, depthLimit: UInt32 = 10_000) {
        self.matchLimit = matchLimit
        self.depthLimit = depthLimit
    }

    /// `matchLimit` 100 000, `depthLimit` 10 000.
    public static let `default` = RegexLimits()
}
