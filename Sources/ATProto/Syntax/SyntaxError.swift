/// A string that does not have the syntax of the identifier type it was parsed as.
///
/// One error type serves every identifier so that callers at the network boundary (firehose
/// ops, label fields, query parameters) can log or reject uniformly:
///
/// ```swift
/// do { _ = try DID("did:FOO:x") } catch { print(error) }
/// // invalid DID "did:FOO:x": method must be lowercase letters
/// ```
public struct SyntaxError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Longest input kept in the error, in characters. Inputs come from the network and can be
    /// up to 8 KiB (AT-URIs); the error only needs enough to recognise the value in a log line.
    public static let maxInputLength = 100

    /// What the input was parsed as: "DID", "handle", "NSID", "AT-URI", …
    public let kind: String
    /// The offending input, truncated to ``maxInputLength`` characters (a trailing "…" marks a cut).
    public let input: String
    /// A short, human explanation of the first rule the input breaks.
    public let reason: String

    public init(kind: String, input: String, reason: String) {
        self.kind = kind
        self.reason = reason
        if input.count > Self.maxInputLength {
            self.input = String(input.prefix(Self.maxInputLength)) + "…"
        } else {
            self.input = input
        }
    }

    init(kind: StaticString, input: String, reason: StaticString) {
        self.init(kind: kind.description, input: input, reason: reason.description)
    }

    /// `invalid <kind> "<input>": <reason>`; the input is quoted and escaped so that whitespace and
    /// control characters (common in bad input) stay visible.
    public var description: String {
        "invalid \(kind) \(input.debugDescription): \(reason)"
    }
}
