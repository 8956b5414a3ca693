import Synchronization

/// Counters of one relay source, safe to read from any task while it runs.
public final class RelaySourceMetrics: Sendable {
    public struct Snapshot: Sendable, Equatable {
        public var connections = 0
        public var reconnects = 0
        public var messages = 0
        public var bytes = 0
        public var events = 0
        /// Frames that could not be decoded; each one dropped the connection.
        public var decodeErrors = 0
        /// Events rejected for their content (CID mismatch, bad record).
        public var rejectedEvents = 0
        /// Events skipped because their seq was not above the last one delivered.
        public var skippedSeqs = 0
        public var outdatedCursors = 0
        public var futureCursors = 0
        public var errorFrames = 0
        public var unknownFrames = 0
        public var httpErrors = 0
        /// The last seq delivered.
        public var lastSeq: Int64?
        /// Seq ranges known to be missed (after a FutureCursor reset), as (after, before) pairs.
        public var gaps: [Gap] = []
    }

    public struct Gap: Sendable, Equatable {
        /// The last seq we had.
        public var after: Int64?
        /// The first seq of the restarted stream.
        public var resumedAt: Int64?
    }

    private let state = Mutex(Snapshot())

    public init() {}

    public var snapshot: Snapshot { state.withLock { $0 } }

    func update(_ body: (inout Snapshot) -> Void) { state.withLock { body(&$0) } }
}
