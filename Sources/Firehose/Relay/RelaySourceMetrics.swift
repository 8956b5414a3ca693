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
        /// Connections whose TCP, TLS or upgrade did not finish within the connect timeout.
        public var connectTimeouts = 0
        /// Close frames the relay sent, by code (1005: a close without one).
        public var closeCodes: [UInt16: Int] = [:]
        /// The wait chosen before the last reconnection.
        public var reconnectDelay: Duration?
        /// The longest wait chosen before a reconnection.
        public var longestReconnectDelay: Duration = .zero
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

extension RelaySourceMetrics.Snapshot {
    /// Events handed to the consumer, rejected ones included.
    var delivered: Int { events + rejectedEvents }

    /// Adds the message counts of `other` (counted apart, for one batch); `lastSeq` is the last
    /// seq delivered since, if any.
    mutating func add(_ other: Self, lastSeq newest: Int64?) {
        messages += other.messages
        bytes += other.bytes
        events += other.events
        decodeErrors += other.decodeErrors
        rejectedEvents += other.rejectedEvents
        skippedSeqs += other.skippedSeqs
        outdatedCursors += other.outdatedCursors
        futureCursors += other.futureCursors
        errorFrames += other.errorFrames
        unknownFrames += other.unknownFrames
        if other.events > 0, let newest { lastSeq = newest }
    }
}
