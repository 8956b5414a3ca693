import ATCrypto
import ATProto
import LabelStore
import Logging
import Synchronization

/// The only code that writes labels. Changes from many workers are grouped into one transaction
/// (everything that arrived while the previous one committed, up to `maxBatch` changes), signed
/// with the current key, and committed together with the cursor, so throughput does not depend on fsync
/// latency and a crash loses nothing: a worker's `submit` returns only after its labels are
/// durable, so the cursor (the scheduler's low-water mark, read at commit time) never passes an
/// event whose labels are not stored. Events above it are handled again after a restart, and the
/// store drops the repeats as no-ops.
public final class LabelWriter: Sendable {
    public struct Configuration: Sendable {
        /// Most changes in one transaction (bounds its duration, and so every submitter's wait).
        public var maxBatch: Int
        /// How often to store the cursor when no labels are written.
        public var idleCursorInterval: Duration

        public init(maxBatch: Int = 1000, idleCursorInterval: Duration = .seconds(1)) {
            self.maxBatch = maxBatch
            self.idleCursorInterval = idleCursorInterval
        }
    }

    /// Submitting after the writer stopped.
    public struct Stopped: Error, CustomStringConvertible {
        public var description: String { "the label writer has stopped" }
    }

    struct Pending: Sendable {
        let changes: [LabelChange]
        let continuation: CheckedContinuation<[StoredLabel], any Error>
    }

    struct State {
        var pending: [Pending] = []
        var waiter: CheckedContinuation<Void, Never>?
        var stopped = false
    }

    let store: LabelStore
    let src: String
    let key: SigningKey
    let keyID: Int64
    let configuration: Configuration
    let cursor: (@Sendable () -> (name: String, seq: Int64)?)?
    /// The stream that changes' `eventSeq`s come from.
    let eventSource: String?
    let logger: Logger
    private let state = Mutex(State())
    private let commitsContinuation: AsyncStream<Int64>.Continuation
    /// The highest label seq after each commit that wrote labels, for live subscribers.
    public let commits: AsyncStream<Int64>
    private let counters = Mutex((batches: 0, labels: 0))

    /// - Parameters:
    ///   - cursor: the cursor to store with each transaction (the source's name and the
    ///     scheduler's low-water mark), or nil when there is none.
    ///   - eventSource: the name of the stream whose seqs the changes carry (the cursor's name),
    ///     so that events handled again after a restart change nothing.
    public init(
        store: LabelStore, src: String, key: SigningKey, configuration: Configuration = .init(), logger: Logger,
        eventSource: String? = nil, cursor: (@Sendable () -> (name: String, seq: Int64)?)? = nil
    ) throws(LabelStore.Error) {
        self.eventSource = eventSource
        self.store = store
        self.src = src
        self.key = key
        self.configuration = configuration
        self.logger = logger
        self.cursor = cursor
        keyID = try store.keyID(forDIDKey: key.publicKey.didKey, at: Datetime.now().rawValue)
        (commits, commitsContinuation) = AsyncStream.makeStream(of: Int64.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues `changes` for the next transaction and returns the rows written once it has
    /// committed (changes that changed nothing write no row).
    public func submit(_ changes: [LabelChange]) async throws -> [StoredLabel] {
        guard !changes.isEmpty else { return [] }
        return try await withCheckedThrowingContinuation { continuation in
            let (stopped, waiter) = state.withLock { s -> (Bool, CheckedContinuation<Void, Never>?) in
                if s.stopped { return (true, nil) }
                s.pending.append(Pending(changes: changes, continuation: continuation))
                defer { s.waiter = nil }
                return (false, s.waiter)
            }
            if stopped { continuation.resume(throwing: Stopped()) }
            waiter?.resume()
        }
    }

    /// (batches committed, labels written) so far.
    public var totals: (batches: Int, labels: Int) { counters.withLock { $0 } }

    /// Commits batches until cancelled; then commits what is queued, stores the final cursor, and
    /// refuses further changes.
    public func run() async {
        let clock = ContinuousClock()
        var lastCommit = clock.now
        while !Task.isCancelled {
            await waitForWork(timeout: configuration.idleCursorInterval)
            if Task.isCancelled { break }
            // Everything queued while the last transaction ran goes into this one (group commit).
            let batch = state.withLock { s -> [Pending] in
                var taken = 0
                var count = 0
                while taken < s.pending.count && (count == 0 || count + s.pending[taken].changes.count <= configuration.maxBatch) {
                    count += s.pending[taken].changes.count
                    taken += 1
                }
                defer { s.pending.removeFirst(taken) }
                return Array(s.pending.prefix(taken))
            }
            if batch.isEmpty && clock.now - lastCommit < configuration.idleCursorInterval { continue }
            commit(batch)
            lastCommit = clock.now
        }
        let rest = state.withLock { s -> [Pending] in
            s.stopped = true
            defer { s.pending.removeAll() }
            return s.pending
        }
        commit(rest)
        commitsContinuation.finish()
    }

    private func waitForWork(timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let ready = self.state.withLock { s -> Bool in
                        if !s.pending.isEmpty || s.stopped { return true }
                        s.waiter = continuation
                        return false
                    }
                    if ready { continuation.resume() }
                }
            }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            // Whichever came first, release the other.
            let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume()
            group.cancelAll()
        }
    }

    /// Writes one transaction: every change of `batch`, and the cursor.
    private func commit(_ batch: [Pending]) {
        let changes = batch.flatMap(\.changes)
        let now = Datetime.now().rawValue
        do {
            let written = try store.write(
                changes, src: src, now: now, cursor: cursor?(), keyID: keyID, eventSource: eventSource
            ) { label in
                try label.signed(with: key)
            }
            counters.withLock {
                $0.batches += 1
                $0.labels += written.count
            }
            // Hand each submitter the rows of its own changes.
            var rows: [ChangeKey: [StoredLabel]] = [:]
            for row in written { rows[ChangeKey(uri: row.label.uri, cid: row.label.cid, val: row.label.val), default: []].append(row) }
            for pending in batch {
                var mine: [StoredLabel] = []
                for change in pending.changes {
                    let key = ChangeKey(uri: change.uri, cid: change.cid, val: change.val)
                    if var list = rows[key], !list.isEmpty {
                        mine.append(list.removeFirst())
                        rows[key] = list
                    }
                }
                pending.continuation.resume(returning: mine)
            }
            if let last = written.last?.seq { commitsContinuation.yield(last) }
        } catch {
            logger.error("label transaction failed", metadata: ["changes": "\(changes.count)", "error": "\(error)"])
            for pending in batch { pending.continuation.resume(throwing: error) }
        }
    }
}

struct ChangeKey: Hashable {
    let uri: String
    let cid: String?
    let val: String
}
