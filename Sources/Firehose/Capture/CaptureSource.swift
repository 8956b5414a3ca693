import ATProto
import Synchronization

/// Capture files as an event source: the messages a relay sent, replayed as fast as the pipeline
/// takes them. A message that cannot be decoded is counted and skipped (a capture cannot be
/// re-fetched the way a live relay connection can); everything else behaves like the relay.
public final class CaptureSource: EventSource {
    public let paths: [String]
    public let decoder: RepoEventDecoder
    public var cursorName: String { "capture" }

    public struct Counts: Sendable, Equatable {
        public var messages = 0
        public var bytes = 0
        public var events = 0
        public var rejected = 0
        public var undecodable = 0
        public var skippedSeqs = 0
        public var withoutSeq = 0
    }

    private let state = Mutex(Counts())
    public var counts: Counts { state.withLock { $0 } }

    public init(paths: [String], decoder: RepoEventDecoder = RepoEventDecoder()) {
        self.paths = paths
        self.decoder = decoder
    }

    public func run(
        resumeAfter: @escaping @Sendable () async -> Int64?,
        deliver: @escaping @Sendable (SourceEvent) async throws -> Void
    ) async throws {
        var last = await resumeAfter()
        for path in paths {
            let reader = try CaptureReader(path: path, maxMessageSize: decoder.maxMessageSize)
            while let message = try reader.readMessage() {
                try Task.checkCancellation()
                state.withLock {
                    $0.messages += 1
                    $0.bytes += message.count
                }
                let delivered: SourceEvent
                do {
                    let event = try decoder.decode(message)
                    guard let seq = event.seq else {
                        state.withLock { $0.withoutSeq += 1 }
                        continue
                    }
                    delivered = .event(seq: seq, event, raw: message)
                } catch where error.rejectsOnlyEvent {
                    guard let seq = RelaySource.seq(of: message) else {
                        state.withLock { $0.undecodable += 1 }
                        continue
                    }
                    state.withLock { $0.rejected += 1 }
                    delivered = .rejected(seq: seq, error, raw: message)
                } catch {
                    state.withLock { $0.undecodable += 1 }
                    continue
                }
                guard let seq = delivered.seq else { continue }
                if let l = last, seq <= l {
                    state.withLock { $0.skippedSeqs += 1 }
                    continue
                }
                try await deliver(delivered)
                last = seq
                if case .event = delivered { state.withLock { $0.events += 1 } }
            }
        }
    }
}
