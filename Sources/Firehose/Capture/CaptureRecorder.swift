import Synchronization

/// Writes the messages a source delivers to a capture, exactly as received, and stops the source
/// (by throwing `LimitReached` from `write`) after `limit` events.
public final class CaptureRecorder: Sendable {
    public struct LimitReached: Error {}

    let writer: Mutex<CaptureWriter>
    public let limit: Int?
    private let written = Mutex(0)

    /// Creates (or truncates) the capture at `path`.
    public init(path: String, limit: Int?) throws(CaptureError) {
        self.writer = Mutex(try CaptureWriter(path: path))
        self.limit = limit
    }

    /// Writes buffered messages to the file.
    public func flush() throws(CaptureError) {
        try writer.withLock { (w) throws(CaptureError) in try w.flush() }
    }

    public var count: Int { written.withLock { $0 } }

    public func write(_ event: SourceEvent) throws {
        switch event {
        case .event(_, _, let raw), .rejected(_, _, let raw):
            try writer.withLock { try $0.write(raw) }
        case .reset:
            return
        }
        let n = written.withLock {
            $0 += 1
            return $0
        }
        if let limit, n >= limit { throw LimitReached() }
    }
}
