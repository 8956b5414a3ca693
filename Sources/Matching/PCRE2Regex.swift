internal import CPCRE2

/// A pattern compiled once by PCRE2 (UTF-8, Unicode properties, JIT when available) and matched
/// many times, from any number of tasks at once.
///
/// The compiled pattern is immutable and shared; everything a match writes (match data, the JIT
/// stack, the limits in force) lives in a ``MatchScratch`` that each worker owns:
///
/// ```swift
/// let regex = try PCRE2Regex(#"free[-\s]?crypto"#, options: .caseInsensitive)
/// let scratch = MatchScratch()                     // one per worker task
/// if let m = try regex.firstMatch(in: post, using: scratch) { print(m.substring(in: post)) }
/// ```
///
/// This file is the only one that sees PCRE2's C API; no C type appears in the public interface.
public final class PCRE2Regex: @unchecked Sendable {
    // Sendable because `code` is written only during init (compile, then JIT compile) and only read
    // afterwards; PCRE2 documents a compiled pattern, JIT code included, as safe to share between
    // threads. Per-match state never lives here.
    private let code: OpaquePointer

    /// The pattern as written.
    public let pattern: String
    public let options: RegexOptions
    /// The bounds applied to every match of this pattern.
    public let limits: RegexLimits
    /// Whether PCRE2 JIT-compiled the pattern (otherwise its interpreter runs it).
    public let isJITCompiled: Bool
    /// Number of capture groups in the pattern.
    public let captureGroupCount: Int
    /// A literal every match contains, found by a conservative reading of the pattern, used by
    /// ``mayMatch(_:)``; `nil` when no such literal was found.
    public let prefilter: RequiredLiteral?

    /// Compiles `pattern`.
    ///
    /// `\C` (match one byte, which could split a UTF-8 sequence) is rejected, so every reported
    /// offset lies on a Unicode scalar boundary of the text.
    /// - Throws: ``RegexCompileError`` with PCRE2's message and the byte offset in the pattern.
    public init(
        _ pattern: String, options: RegexOptions = [], limits: RegexLimits = .default
    ) throws(RegexCompileError) {
        var flags = UInt32(PCRE2_UTF) | UInt32(PCRE2_UCP) | UInt32(PCRE2_NEVER_BACKSLASH_C)
        if options.contains(.caseInsensitive) { flags |= UInt32(PCRE2_CASELESS) }
        if options.contains(.multiline) { flags |= UInt32(PCRE2_MULTILINE) }
        if options.contains(.dotAll) { flags |= UInt32(PCRE2_DOTALL) }
        if options.contains(.extended) { flags |= UInt32(PCRE2_EXTENDED) }

        var errorCode: Int32 = 0
        var errorOffset = 0
        let compiled = UTF8Offsets.withBytes(of: pattern) { bytes in
            withNonNullBase(bytes) { base in
                pcre2_compile_8(base, bytes.count, flags, &errorCode, &errorOffset, nil)
            }
        }
        guard let compiled else {
            throw RegexCompileError(
                pattern: pattern, message: Self.message(forCode: errorCode), code: errorCode, byteOffset: errorOffset)
        }
        code = compiled
        self.pattern = pattern
        self.options = options
        self.limits = limits
        // A pattern the JIT cannot handle still runs, in the interpreter. (`(*NO_JIT)` makes
        // pcre2_jit_compile succeed without compiling, hence the size check.)
        var jitSize = 0
        isJITCompiled =
            pcre2_jit_compile_8(compiled, UInt32(PCRE2_JIT_COMPLETE)) == 0
            && pcre2_pattern_info_8(compiled, UInt32(PCRE2_INFO_JITSIZE), &jitSize) == 0 && jitSize > 0
        var groups: UInt32 = 0
        _ = pcre2_pattern_info_8(compiled, UInt32(PCRE2_INFO_CAPTURECOUNT), &groups)
        captureGroupCount = Int(groups)
        prefilter = RequiredLiteral.extract(from: pattern, options: options)
    }

    deinit {
        pcre2_code_free_8(code)
    }

    /// The required literal of ``prefilter`` (compared case-insensitively when
    /// ``RequiredLiteral/caseInsensitive`` says so).
    public var requiredLiteral: String? { prefilter?.text }

    /// `false` only when the pattern certainly cannot match `text`, because the text lacks the
    /// pattern's required literal; a cheap test to skip ``firstMatch(in:using:)``.
    public func mayMatch(_ text: String) -> Bool {
        prefilter?.occurs(in: text) ?? true
    }

    /// Whether the linked PCRE2 has a JIT compiler for this machine.
    public static let jitAvailable: Bool = {
        var value: UInt32 = 0
        return pcre2_config_8(UInt32(PCRE2_CONFIG_JIT), &value) >= 0 && value == 1
    }()

    /// The linked PCRE2's version, e.g. `10.42 2022-12-11`.
    public static let libraryVersion: String = {
        var buffer = [UInt8](repeating: 0, count: 64)
        let written = pcre2_config_8(UInt32(PCRE2_CONFIG_VERSION), &buffer)
        guard written > 1 else { return "unknown" }
        return String(decoding: buffer[..<Int(written - 1)], as: UTF8.self)
    }()

    // MARK: Matching

    /// The first match in `text`, or `nil` when there is none.
    /// - Throws: ``RegexError`` when a limit was hit; the pattern and scratch stay usable.
    public func firstMatch(in text: String, using scratch: MatchScratch) throws(RegexError) -> RegexMatch? {
        let (rc, match) = UTF8Offsets.withBytes(of: text) { subject in
            let rc = run(subject, from: 0, scratch: scratch)
            return (rc, rc > 0 ? scratch.match(groups: captureGroupCount) : nil)
        }
        try Self.check(rc)
        return match
    }

    /// Whether `text` contains a match. Cheaper than ``firstMatch(in:using:)``: no result is built.
    public func hasMatch(in text: String, using scratch: MatchScratch) throws(RegexError) -> Bool {
        let rc = UTF8Offsets.withBytes(of: text) { subject in run(subject, from: 0, scratch: scratch) }
        try Self.check(rc)
        return rc > 0
    }

    /// Successive non-overlapping matches, left to right, at most `maxCount` of them. After an
    /// empty match the search resumes one Unicode scalar further on.
    public func allMatches(
        in text: String, using scratch: MatchScratch, maxCount: Int = .max
    ) throws(RegexError) -> [RegexMatch] {
        let (rc, matches) = UTF8Offsets.withBytes(of: text) { subject -> (Int32, [RegexMatch]) in
            var matches: [RegexMatch] = []
            var start = 0
            while start <= subject.count, matches.count < maxCount {
                let rc = run(subject, from: start, scratch: scratch)
                guard rc > 0 else { return (rc, matches) }
                let match = scratch.match(groups: captureGroupCount)
                matches.append(match)
                let end = match.byteRange.upperBound
                if !match.byteRange.isEmpty {
                    start = end
                } else if end < subject.count {
                    start = end + UTF8Offsets.scalarLength(leadByte: subject[end])
                } else {
                    break
                }
            }
            return (PCRE2_ERROR_NOMATCH, matches)
        }
        try Self.check(rc)
        return matches
    }

    /// One-off convenience that allocates a scratch for this call; hot paths pass their own.
    public func firstMatch(in text: String) throws(RegexError) -> RegexMatch? {
        try firstMatch(in: text, using: MatchScratch())
    }

    /// Runs one match attempt and returns PCRE2's result code.
    private func run(_ subject: UnsafeBufferPointer<UInt8>, from start: Int, scratch: MatchScratch) -> Int32 {
        let matchData = scratch.prepare(pairs: captureGroupCount + 1, limits: limits)
        return withNonNullBase(subject) { base in
            // Swift strings are valid UTF-8, so PCRE2's own O(n) validity check is skipped.
            if isJITCompiled {
                pcre2_jit_match_8(code, base, subject.count, start, 0, matchData, scratch.matchContext)
            } else {
                pcre2_match_8(
                    code, base, subject.count, start, UInt32(PCRE2_NO_UTF_CHECK), matchData, scratch.matchContext)
            }
        }
    }

    private static func check(_ rc: Int32) throws(RegexError) {
        guard rc < 0, rc != PCRE2_ERROR_NOMATCH else { return }
        switch rc {
        case PCRE2_ERROR_MATCHLIMIT: throw .matchLimit
        case PCRE2_ERROR_DEPTHLIMIT: throw .depthLimit
        case PCRE2_ERROR_HEAPLIMIT: throw .heapLimit
        case PCRE2_ERROR_JIT_STACKLIMIT: throw .jitStackLimit
        default: throw .matchFailed(code: rc, message: message(forCode: rc))
        }
    }

    /// PCRE2's text for an error code.
    static func message(forCode code: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        let length = pcre2_get_error_message_8(code, &buffer, buffer.count)
        guard length >= 0 else { return "PCRE2 error \(code)" }
        return String(decoding: buffer[..<Int(length)], as: UTF8.self)
    }
}

/// The mutable half of matching: PCRE2 match data (the output vector, and the interpreter's
/// backtracking frames, kept between calls), a match context carrying the current pattern's limits,
/// and a JIT stack.
///
/// Create one per worker task and reuse it for every pattern and text that worker matches; it is
/// not `Sendable`, so it cannot be shared by accident.
public final class MatchScratch {
    /// 1 MiB: PCRE2's built-in JIT stack is 32 KiB of machine stack, which deeply nested or long
    /// repeated groups exhaust (`jitStackLimit`). 1 MiB covers any reasonable pattern on a record's
    /// text; it is reserved address space, committed as the stack grows.
    public static let defaultJITStackSize = 1 << 20

    fileprivate let matchContext: OpaquePointer
    private let jitStack: OpaquePointer?
    private var matchData: OpaquePointer
    private var pairCapacity: Int

    /// - Parameter jitStackSize: the largest the JIT stack may grow to, in bytes (at least 32 KiB).
    public init(jitStackSize: Int = MatchScratch.defaultJITStackSize) {
        guard let context = pcre2_match_context_create_8(nil) else { fatalError("PCRE2: out of memory") }
        matchContext = context
        if PCRE2Regex.jitAvailable, let stack = pcre2_jit_stack_create_8(32 * 1024, max(32 * 1024, jitStackSize), nil) {
            jitStack = stack
            pcre2_jit_stack_assign_8(context, nil, UnsafeMutableRawPointer(stack))
        } else {
            jitStack = nil
        }
        pairCapacity = 16
        guard let data = pcre2_match_data_create_8(UInt32(pairCapacity), nil) else {
            fatalError("PCRE2: out of memory")
        }
        matchData = data
    }

    deinit {
        pcre2_match_data_free_8(matchData)
        if let jitStack { pcre2_jit_stack_free_8(jitStack) }
        pcre2_match_context_free_8(matchContext)
    }

    /// Applies a pattern's limits and makes room for its capture groups; returns the match data.
    fileprivate func prepare(pairs: Int, limits: RegexLimits) -> OpaquePointer {
        pcre2_set_match_limit_8(matchContext, limits.matchLimit)
        pcre2_set_depth_limit_8(matchContext, limits.depthLimit)
        if pairs > pairCapacity {
            guard let data = pcre2_match_data_create_8(UInt32(pairs), nil) else { fatalError("PCRE2: out of memory") }
            pcre2_match_data_free_8(matchData)
            matchData = data
            pairCapacity = pairs
        }
        return matchData
    }

    /// The match just found, read from the output vector.
    fileprivate func match(groups: Int) -> RegexMatch {
        let vector = pcre2_get_ovector_pointer_8(matchData)!
        let unset = Int(bitPattern: UInt.max)  // PCRE2_UNSET
        func range(_ pair: Int) -> Range<Int>? {
            let start = vector[2 * pair], end = vector[2 * pair + 1]
            guard start != unset, end != unset else { return nil }
            // `\K` can move the start past the end; report the empty range at the end then.
            return min(start, end)..<end
        }
        let captures = groups == 0 ? [] : (1...groups).map(range)
        return RegexMatch(byteRange: range(0) ?? 0..<0, captureByteRanges: captures)
    }
}

@available(*, unavailable)
extension MatchScratch: Sendable {}

/// Calls `body` with the buffer's base address, or with a pointer to a zero byte for an empty
/// buffer (whose base address may be nil, which PCRE2 10.42 rejects even with length 0).
private func withNonNullBase<R>(_ buffer: UnsafeBufferPointer<UInt8>, _ body: (UnsafePointer<UInt8>) -> R) -> R {
    if let base = buffer.baseAddress { return body(base) }
    var zero: UInt8 = 0
    return withUnsafePointer(to: &zero) { body($0) }
}
