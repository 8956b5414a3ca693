import ATCrypto
import ATProto
import LabelStore
import Logging
import Synchronization

/// The only code that writes labels. Changes from many workers are grouped into one transaction
/// (everything queued while the previous one committed, up to `maxBatch` changes), signed with
/// the current key, and committed together with the cursor, so throughput does not depend on
/// fsync latency and a crash loses nothing.
///
/// Why the cursor never passes an event whose labels are not stored: a worker queues its event's
/// changes before the event finishes, and the writer reads the cursor (the scheduler's low-water
/// mark: every event at or below it has finished) *before* it takes the queue. So every change
/// of every event at or below the cursor is in this transaction or an earlier one. Events above
/// it are handled again after a restart, and the store recognises their changes as done.
///
/// Workers use `enqueue`, which returns at once (it waits only while the queue is full, which
/// slows the source down instead of growing memory); people use `submit`, which returns the rows
/// once they are durable. A failed transaction is retried, never dropped: the labels and the
/// cursor wait together until the database takes them.
public final class LabelWriter: Sendable {
    public struct Configuration: Sendable {
        /// Most changes in one transaction (bounds its duration, and so every submitter's wait).
        public var maxBatch: Int
        /// Most changes queued before `enqueue` waits.
        public var maxQueued: Int
        /// How often to store the cursor when no labels are written.
        public var idleCursorInterval: Duration
        /// First wait before retrying a failed transaction (doubling up to 5 s).
        public var retryDelay: Duration

        public init(
            maxBatch: Int = 5_000, maxQueued: Int = 20_000, idleCursorInterval: Duration = .seconds(1),
            retryDelay: Duration = .milliseconds(100)
        ) {
            self.maxBatch = maxBatch
            self.maxQueued = maxQueued
            self.idleCursorInterval = idleCursorInterval
            self.retryDelay = retryDelay
        }
    }

    /// Submitting after the writer stopped.
    public struct Stopped: Error, CustomStringConvertible {
        public var description: String { "the label writer has stopped" }
    }

    struct Pending: Sendable {
        /// Submission order.
        let id: Int64
        let changes: [LabelChange]
        /// Who waits for the rows (nil: queued by a worker, nobody waits).
        let continuation: CheckedContinuation<[StoredLabel], any Error>?
    }

    struct State {
        var pending: [Pending] = []
        var queued = 0
        /// The id of the newest submission.
        var lastID: Int64 = 0
        var waiter: CheckedContinuation<Void, Never>?
        /// Workers waiting for room in the queue.
        var roomWaiters: [CheckedContinuation<Void, Never>] = []
        var stopped = false
    }

    /// Counters for metrics.
    public struct Totals: Sendable, Equatable {
        public var batches = 0
        public var labels = 0
        public var failedTransactions = 0
        /// Changes in the largest transaction so far.
        public var largestBatch = 0
        /// Time spent in transactions, in seconds.
        public var commitSeconds = 0.0
        /// Batches of negations that changed nothing, so needed no transaction.
        public var skippedBatches = 0
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
    private let counters = Mutex(Totals())
    /// A cursor read before a batch was cut, with the newest submission queued at that moment.
    struct Checkpoint {
        let cursor: (name: String, seq: Int64)
        let lastQueued: Int64
    }
    /// Checkpoints whose submissions are not all committed yet (used by the run loop only).
    private let checkpoints = Mutex<[Checkpoint]>([])
    /// The id of the newest submission committed.
    private let committedID = Mutex<Int64>(0)

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

    /// The signing key's row id in the store.
    public var currentKeyID: Int64 { keyID }

    /// Queues `changes` for the next transaction and returns the rows written once it has
    /// committed (changes that changed nothing write no row).
    public func submit(_ changes: [LabelChange]) async throws -> [StoredLabel] {
        guard !changes.isEmpty else { return [] }
        return try await withCheckedThrowingContinuation { continuation in
            if !append(changes, continuation: continuation) { continuation.resume(throwing: Stopped()) }
        }
    }

    /// Adds a submission to the queue and wakes the run loop; false when the writer has stopped.
    private func append(_ changes: [LabelChange], continuation: CheckedContinuation<[StoredLabel], any Error>?) -> Bool {
        let (stopped, waiter) = state.withLock { s -> (Bool, CheckedContinuation<Void, Never>?) in
            if s.stopped { return (true, nil) }
            s.lastID += 1
            s.pending.append(Pending(id: s.lastID, changes: changes, continuation: continuation))
            s.queued += changes.count
            defer { s.waiter = nil }
            return (false, s.waiter)
        }
        waiter?.resume()
        return !stopped
    }

    /// Queues `changes` for the next transaction without waiting for it; waits only while the
    /// queue holds `maxQueued` changes or more. The pipeline's workers use this: see the type's
    /// comment for why the cursor stays safe.
    public func enqueue(_ changes: [LabelChange]) async throws {
        guard !changes.isEmpty else { return }
        while true {
            let full = state.withLock { s in !s.stopped && s.queued >= configuration.maxQueued }
            if !full { break }
            await withCheckedContinuation { continuation in
                let wait = state.withLock { s -> Bool in
                    guard !s.stopped && s.queued >= configuration.maxQueued else { return false }
                    s.roomWaiters.append(continuation)
                    return true
                }
                if !wait { continuation.resume() }
            }
        }
        if !append(changes, continuation: nil) { throw Stopped() }
    }

    /// Counters so far.
    public var totals: Totals { counters.withLock { $0 } }

    /// Commits batches until cancelled; then commits what is queued, stores the final cursor, and
    /// refuses further changes.
    public func run() async {
        let clock = ContinuousClock()
        var lastCommit = clock.now
        // One long-lived ticker wakes the loop for the idle cursor, so that waiting for work
        // costs one suspension, not a timer and two child tasks per transaction.
        let ticker = Task { [configuration] in
            while !Task.isCancelled {
                do { try await Task.sleep(for: configuration.idleCursorInterval) } catch { break }
                self.wakeRunLoop()
            }
        }
        defer { ticker.cancel() }
        await withTaskCancellationHandler {
            while !Task.isCancelled {
                await waitForWork()
                if Task.isCancelled { break }
                let mark = checkpoint()
                let batch = takeBatch(limit: configuration.maxBatch)
                if batch.isEmpty && clock.now - lastCommit < configuration.idleCursorInterval { continue }
                let cursor = cursorCovered(by: batch, mark)
                // Negations of labels that were never applied change nothing: no transaction
                // for them (the cursor they cover goes with the next one, or the idle tick's).
                if !batch.isEmpty && clock.now - lastCommit < configuration.idleCursorInterval && changesNothing(batch) {
                    for pending in batch { pending.continuation?.resume(returning: []) }
                    counters.withLock { $0.skippedBatches += 1 }
                    continue
                }
                await commitRetrying(batch, cursor: cursor, retryWhileRunning: true)
                lastCommit = clock.now
            }
        } onCancel: {
            self.wakeRunLoop()
        }
        let mark = checkpoint()
        let rest = state.withLock { s -> [Pending] in
            s.stopped = true
            defer {
                s.pending.removeAll()
                s.queued = 0
            }
            return s.pending
        }
        releaseRoomWaiters()
        await commitRetrying(rest, cursor: cursorCovered(by: rest, mark), retryWhileRunning: false)
        commitsContinuation.finish()
    }

    /// Reads the cursor, then notes the last submission queued so far: every change of every event
    /// at or below that cursor is in a submission up to that one (see the type's comment).
    private func checkpoint() -> Checkpoint? {
        guard let mark = cursor?() else { return nil }
        return Checkpoint(cursor: mark, lastQueued: state.withLock { $0.lastID })
    }

    /// The cursor a transaction that ends with `batch` may store: the newest checkpoint whose
    /// submissions are all committed with it. A batch cut short by `maxBatch` may leave changes
    /// of events at or below the newest cursor queued; it then stores an older one.
    private func cursorCovered(by batch: [Pending], _ newest: Checkpoint?) -> (name: String, seq: Int64)? {
        checkpoints.withLock { list in
            if let newest { list.append(newest) }
            let committedThrough = batch.last?.id ?? committedID.withLock { $0 }
            var covered: (name: String, seq: Int64)? = nil
            while let first = list.first, first.lastQueued <= committedThrough {
                covered = first.cursor
                list.removeFirst()
            }
            if let last = batch.last?.id { committedID.withLock { $0 = last } }
            return covered
        }
    }

    /// Everything queued, in order, up to `limit` changes (at least one submission).
    private func takeBatch(limit: Int) -> [Pending] {
        let batch = state.withLock { s -> [Pending] in
            var taken = 0
            var count = 0
            while taken < s.pending.count && (count == 0 || count + s.pending[taken].changes.count <= limit) {
                count += s.pending[taken].changes.count
                taken += 1
            }
            defer {
                s.pending.removeFirst(taken)
                s.queued -= count
            }
            return Array(s.pending.prefix(taken))
        }
        releaseRoomWaiters()
        return batch
    }

    private func releaseRoomWaiters() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            guard s.stopped || s.queued < configuration.maxQueued else { return [] }
            defer { s.roomWaiters.removeAll() }
            return s.roomWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Whether `batch` holds only negations and none of them would change anything (a failed
    /// check says no: the transaction then decides).
    private func changesNothing(_ batch: [Pending]) -> Bool {
        guard batch.allSatisfy({ $0.changes.allSatisfy { $0.action == .negate } }) else { return false }
        let changes = batch.count == 1 ? batch[0].changes : batch.flatMap(\.changes)
        return (try? store.changesNothing(changes, src: src, now: Datetime.now().rawValue, eventSource: eventSource)) ?? false
    }

    /// Returns when something is queued, or when woken (by the idle ticker or cancellation).
    private func waitForWork() async {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { s -> Bool in
                if !s.pending.isEmpty || s.stopped || Task.isCancelled { return true }
                s.waiter = continuation
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// Resumes the run loop if it waits.
    private func wakeRunLoop() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    /// Commits `batch` with `cursor`, retrying with a growing delay until it succeeds. At
    /// shutdown (`retryWhileRunning` false) it tries once: what is not stored is handled again
    /// after the restart, since the cursor was not stored either.
    private func commitRetrying(_ batch: [Pending], cursor: (name: String, seq: Int64)?, retryWhileRunning: Bool) async {
        var delay = configuration.retryDelay
        while true {
            do {
                try commit(batch, cursor: cursor)
                return
            } catch {
                counters.withLock { $0.failedTransactions += 1 }
                logger.error(
                    "label transaction failed; the labels and the cursor wait for the next attempt",
                    metadata: ["changes": "\(batch.reduce(0) { $0 + $1.changes.count })", "error": "\(error)"])
                if !retryWhileRunning || Task.isCancelled {
                    for pending in batch { pending.continuation?.resume(throwing: error) }
                    return
                }
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
    }

    /// Writes one transaction: every change of `batch`, and the cursor.
    private func commit(_ batch: [Pending], cursor: (name: String, seq: Int64)?) throws {
        let changes = batch.count == 1 ? batch[0].changes : batch.flatMap(\.changes)
        let now = Datetime.now().rawValue
        let clock = ContinuousClock()
        let started = clock.now
        let written = try store.write(
            changes, src: src, now: now, cursor: cursor, keyID: keyID, eventSource: eventSource
        ) { [key] label in
            try label.signed(with: key)
        }
        let elapsed = clock.now - started
        counters.withLock {
            $0.batches += 1
            $0.labels += written.count
            $0.largestBatch = max($0.largestBatch, changes.count)
            $0.commitSeconds += Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        }
        if batch.contains(where: { $0.continuation != nil }) {
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
                pending.continuation?.resume(returning: mine)
            }
        }
        if let last = written.last?.seq { commitsContinuation.yield(last) }
    }
}

struct ChangeKey: Hashable {
    let uri: String
    let cid: String?
    let val: String
}
