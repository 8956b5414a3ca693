/// Why a capture file could not be read.
public struct CaptureError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        case cannotOpen(path: String, reason: String)
        case readFailed(path: String, reason: String)
        case cannotWrite(path: String, reason: String)
        case decompression(path: String, reason: String)
        /// The file ends inside a record.
        case truncated(path: String, offset: UInt64)
        /// A record's length prefix is not a valid varint.
        case badLength(path: String, offset: UInt64)
        /// A record declares a message larger than the limit.
        case messageTooLarge(path: String, offset: UInt64, size: UInt64, limit: Int)
    }

    public let kind: Kind

    init(_ kind: Kind) { self.kind = kind }

    public var description: String {
        switch kind {
        case .cannotOpen(let path, let reason): "\(path): cannot open: \(reason)"
        case .readFailed(let path, let reason): "\(path): read failed: \(reason)"
        case .cannotWrite(let path, let reason): "\(path): cannot write: \(reason)"
        case .decompression(let path, let reason): "\(path): \(reason)"
        case .truncated(let path, let offset): "\(path): file ends inside the record at byte \(offset)"
        case .badLength(let path, let offset): "\(path): bad record length at byte \(offset)"
        case .messageTooLarge(let path, let offset, let size, let limit):
            "\(path): record at byte \(offset) declares \(size) bytes, over the \(limit)-byte limit"
        }
    }
}
