/// The name a stream's position is stored under: the kind of stream and its host
/// (`relay bsky.network`, `jetstream jetstream2.us-east.bsky.network`, `capture`). A labeler that
/// switches relays never resumes from another relay's seq, and a label remembers which stream's
/// event last changed it, since seqs of different streams cannot be compared.
public struct CursorName: Hashable, Sendable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The stored text.
    public let rawValue: String

    public init(_ rawValue: String) { self.rawValue = rawValue }

    public init(stringLiteral value: String) { rawValue = value }

    /// A relay's `subscribeRepos`, by the host it is reached at.
    public static func relay(host: String) -> CursorName { CursorName("relay " + host) }

    /// A Jetstream instance, by the host it is reached at.
    public static func jetstream(host: String) -> CursorName { CursorName("jetstream " + host) }

    /// Capture files, replayed.
    public static let capture: CursorName = "capture"

    public var description: String { rawValue }

    public static func < (lhs: CursorName, rhs: CursorName) -> Bool { lhs.rawValue < rhs.rawValue }
}
