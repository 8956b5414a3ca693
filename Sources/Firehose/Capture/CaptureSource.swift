import ATProto
import Synchronization

/// Capture files as an event source: the messages a relay sent, replayed as fast as the pipeline
/// takes them. A message that cannot be decoded is counted and skipped (a capture cannot be
/// re-fetched the way a live relay connection can); everything else behaves like the relay.
///
/// ``runSealed(resumeAfter:deliver:)`` reads only each message's envelope (seq and account) and
/// hands the messages over `batchSize` at a time; the consumer decodes them (opens the
/// envelopes), on as many cores as it likes. A message that does not open is then the consumer's
/// to count: rejected, or undecodable.
public final class CaptureSource: EventSource {
    public let paths: [String]
    public let decoder: RepoEventDecoder
    /// Messages per delivery of `runSealed`: enough that handing them over costs little per
    /// event, few enough that a batch waiting for room in the consumer's queue holds little
    /// memory (64 messages of a firehose capture are about 75 KB).
    public let batchSize: Int
    public var cursorName: CursorName { .capture }

    public struct Counts: Sendable, Equatable {
        public var messages = 0
        public var bytes = 0
        /// Events delivered (from `runSealed`: envelopes, some of which may not open).
        public var events = 0
        /// Events rejected for their content (from `runSealed`: only those whose envelope could
        /// not be read; the consumer finds the others).
        public var rejected = 0
        /// Messages skipped because they do not decode (from `runSealed`: only those whose
        /// envelope could not be read).
        public var undecodable = 0
        public var skippedSeqs = 0
        public var withoutSeq = 0

        mutating func add(_ other: Counts) {
            messages += other.messages
            bytes += other.bytes
            events += other.events
            rejected += other.rejected
            undecodable += other.undecodable
            skippedSeqs += other.skippedSeqs
            withoutSeq += other.withoutSeq
        }
    }

    private let state = Mutex(Counts())
    public var counts: Counts { state.withLock { $0 } }
    private let filePosition = Atomic<Int>(0)
    /// Bytes of the capture files read so far, all files together (compressed bytes for a
    /// compressed file): progress against the files' sizes.
    public var fileBytesRead: Int { filePosition.load(ordering: .relaxed) }

    public init(paths: [String], decoder: RepoEventDecoder = RepoEventDecoder(), batchSize: Int = 64) {
        precondition(batchSize >= 1, "CaptureSource batchSize must be at least 1")
        self.paths = paths
        self.decoder = decoder
        self.batchSize = batchSize
    }

    public func run(
        resumeAfter: @escaping @Sendable () async -> Int64?,
        deliver: @escaping @Sendable (SourceEvent) async throws -> Void
    ) async throws {
        var last = await resumeAfter()
        var finishedFiles = 0
        for path in paths {
            let reader = try CaptureReader(path: path, maxMessageSize: decoder.maxMessageSize)
            defer { finishedFiles += reader.fileBytesRead }
            while let message = try reader.readMessage() {
                try Task.checkCancellation()
                filePosition.store(finishedFiles + reader.fileBytesRead, ordering: .relaxed)
                var counted = Counts()
                counted.messages = 1
                counted.bytes = message.count
                let delivered = classify(message, counted: &counted)
                defer { state.withLock { $0.add(counted) } }
                guard let delivered, let seq = delivered.seq else { continue }
                if let l = last, seq <= l {
                    counted.skippedSeqs += 1
                    continue
                }
                try await deliver(delivered)
                last = seq
                if case .event = delivered { counted.events += 1 }
            }
        }
    }

    public func runSealed(
        resumeAfter: @escaping @Sendable () async -> Int64?,
        deliver: @escaping @Sendable ([SealedSourceEvent]) async throws -> Void
    ) async throws {
        var last = await resumeAfter()
        var finishedFiles = 0
        for path in paths {
            let reader = try CaptureReader(path: path, maxMessageSize: decoder.maxMessageSize)
            defer { finishedFiles += reader.fileBytesRead }
            while case let messages = try reader.readMessages(maxCount: batchSize), !messages.isEmpty {
                try Task.checkCancellation()
                filePosition.store(finishedFiles + reader.fileBytesRead, ordering: .relaxed)
                // Counted locally and published once per batch.
                var counted = Counts()
                var batch: [SealedSourceEvent] = []
                batch.reserveCapacity(messages.count)
                for message in messages {
                    counted.messages += 1
                    counted.bytes += message.count
                    let sealed: SealedSourceEvent
                    if let envelope = decoder.envelope(of: message) {
                        sealed = .event(envelope)
                    } else {
                        // No seq to route by: an #info or error frame, or a malformed message.
                        // Decoding it tells which, and counts it as `run` would.
                        guard let delivered = classify(Array(message), counted: &counted) else { continue }
                        sealed = SealedSourceEvent(delivered)
                    }
                    guard let seq = sealed.seq else { continue }
                    if let l = last, seq <= l {
                        counted.skippedSeqs += 1
                        continue
                    }
                    last = seq
                    batch.append(sealed)
                }
                state.withLock { $0.add(counted) }
                guard !batch.isEmpty else { continue }
                try await deliver(batch)
                let events = batch.count(where: { if case .event = $0 { true } else { false } })
                state.withLock { $0.events += events }
            }
        }
    }

    /// Decodes a message into what `run` delivers, or `nil` (counted) when there is nothing to
    /// deliver: a message without a seq, or one that does not decode.
    private func classify(_ message: [UInt8], counted: inout Counts) -> SourceEvent? {
        do {
            let event = try decoder.decode(message)
            guard let seq = event.seq else {
                counted.withoutSeq += 1
                return nil
            }
            return .event(seq: seq, event, raw: message)
        } catch  where error.rejectsOnlyEvent {
            guard let seq = RelaySource.seq(of: message) else {
                counted.undecodable += 1
                return nil
            }
            counted.rejected += 1
            return .rejected(seq: seq, error, raw: message)
        } catch {
            counted.undecodable += 1
            return nil
        }
    }
}
