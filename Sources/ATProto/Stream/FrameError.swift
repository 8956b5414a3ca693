/// Why one event-stream message could not be turned into an event.
///
/// For a relay connection every one of these is a hard error (the spec says to drop the
/// connection on invalid framing or CBOR), except `blockMismatch` and `badRecord`, which reject
/// only the event they are in.
public struct FrameError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        /// The message is larger than the configured limit (the firehose allows 5 MB).
        case tooLarge(size: Int, limit: Int)
        /// The header is not valid DAG-CBOR.
        case header(CBORError)
        /// The body is not valid DAG-CBOR.
        case body(CBORError)
        /// The message has a header but no body.
        case missingBody
        /// Bytes follow the body.
        case trailingBytes(Int)
        /// The header is not `{op, t}` as the spec requires.
        case badHeader(String)
        /// A known message type is missing a required field or has a field of the wrong type.
        case badField(type: String, field: String, reason: String)
        /// The `blocks` CAR of a commit or sync cannot be parsed.
        case car(CAR.Error)
        /// A CAR block's sha2-256 does not match its CID.
        case blockMismatch(CID)
        /// The commit object inside `blocks` is missing or disagrees with the event.
        case badCommit(String)
        /// A created or updated record's block is not valid DAG-CBOR.
        case badRecord(path: String, CBORError)
    }

    public let kind: Kind

    public init(_ kind: Kind) { self.kind = kind }

    /// Errors that reject the event but do not make the stream itself untrustworthy.
    public var rejectsOnlyEvent: Bool {
        switch kind {
        case .blockMismatch, .badRecord, .badCommit: true
        default: false
        }
    }

    public var description: String {
        switch kind {
        case .tooLarge(let size, let limit): "frame of \(size) bytes exceeds the \(limit)-byte limit"
        case .header(let e): "frame header: \(e)"
        case .body(let e): "frame body: \(e)"
        case .missingBody: "frame has a header but no body"
        case .trailingBytes(let n): "\(n) unexpected bytes after the frame body"
        case .badHeader(let why): "frame header: \(why)"
        case .badField(let type, let field, let reason): "\(type): field '\(field)' \(reason)"
        case .car(let e): "commit blocks: \(e)"
        case .blockMismatch(let cid): "block \(cid) does not match its CID"
        case .badCommit(let why): "commit object: \(why)"
        case .badRecord(let path, let e): "record \(path): \(e)"
        }
    }
}
