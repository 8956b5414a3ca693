import ATCrypto
import ATProto
import LabelStore
import Logging
import Metrics
import Synchronization

/// The only code that commits labels, and everything that goes with them: their history,
/// locks, threshold hits and the cursor. Changes from many workers are grouped into one
/// transaction (everything queued while the previous one committed, up to `maxBatch` changes),
/// so throughput does not depend on fsync latency and a crash loses nothing.
///
/// Each transaction is made in three steps: the current rows of the keys it touches are read
/// from a snapshot and `LabelPlanner` decides what to write; the new labels are signed on every
/// core, off the database's thread; then one write commits it all. A commit planned on rows that
/// another process changed meanwhile (the CLI, a replay into the same database) is refused by
/// the store and planned again.
///
/// Why the cursor never passes an event whose labels are not stored: a worker queues its event's
/// changes before the event finishes; the scheduler publishes a low-water mark (every event at
/// or below it has finished) only after that, and the pipeline hands it on (`cursorAdvanced`);
/// the writer notes the newest mark it was given *before* it takes the queue. So every change
/// of every event at or below the cursor is in this transaction or an earlier one. Events above
/// it are handled again after a restart, and the planner recognises their changes as done.
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
        /// The clock that stamps labels (`cts`) and history; tests fix it.
        public var now: @Sendable () -> Datetime
        /// Most attempts at one transaction before its submitters get the error (nil: retry for
        /// as long as the writer runs, as the service does; a one-off command gives up).
        public var attempts: Int?
        /// The labeler's global budget (`limits.labels_per_*`): labels beyond it wait in the
        /// database's queue and go out as its windows make room. Nil: no limit (a queue left
        /// from an earlier configuration still drains, at once).
        public var globalBudget: BudgetLimits?
        /// Whether this writer takes changes out of the queue. The service's does; a one-off
        /// command's only adds to it, and the service sends them.
        public var drainsQueue: Bool
        /// How often the queue is looked at for room.
        public var drainInterval: Duration

        public init(
            maxBatch: Int = 5_000, maxQueued: Int = 20_000, idleCursorInterval: Duration = .seconds(1),
            retryDelay: Duration = .milliseconds(100), now: @escaping @Sendable () -> Datetime = { Datetime.now() },
            attempts: Int? = nil, globalBudget: BudgetLimits? = nil, drainsQueue: Bool = true,
            drainInterval: Duration = .milliseconds(250)
        ) {
            self.globalBudget = globalBudget.flatMap { $0.isEmpty ? nil : $0 }
            self.drainsQueue = drainsQueue
            self.drainInterval = drainInterval
            self.attempts = attempts
            self.maxBatch = maxBatch
            self.maxQueued = maxQueued
            self.idleCursorInterval = idleCursorInterval
            self.retryDelay = retryDelay
            self.now = now
        }
    }

    /// Submitting after the writer stopped.
    public struct Stopped: Error, CustomStringConvertible {
        public var description: String { "the label writer has stopped" }
    }

    /// What one submission came to once committed.
    public struct Submitted: Sendable {
        /// The rows written.
        public var rows: [StoredLabel] = []
        /// Changes that wait in the global budget's queue.
        public var queued = 0
        /// Rules' applications withheld because the rule is tripped.
        public var withheld = 0
    }

    struct Pending: Sendable {
        /// Submission order.
        let id: Int64
        let changes: [LabelChange]
        let thresholdHits: [ThresholdHit]
        /// The stream's sequence restarted: drop its cursor and forget its events (alone in its
        /// transaction, after everything queued before it).
        let restartsSource: Bool
        /// Who waits for the rows (nil: queued by a worker, nobody waits).
        let continuation: CheckedContinuation<Submitted, any Error>?
        /// Accounts that became inactive or active again (`#account` events).
        var accountStatuses: [AccountStatusChange] = []

        /// How much of the queue it takes up.
        var size: Int { max(1, changes.count + thresholdHits.count + accountStatuses.count) }
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
        /// The newest low-water mark handed over (`cursorAdvanced`); nil before the first and
        /// after the source's sequence restarted.
        var lowWaterMark: Int64?
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
        /// Batches that changed nothing (negations of labels never applied), so needed no
        /// transaction.
        public var skippedBatches = 0
        /// Plans made again because another process changed labels meanwhile.
        public var stalePlans = 0
        /// Time spent signing, in seconds (all cores together count once: wall time).
        public var signSeconds = 0.0
        /// Rules' applications withheld by their budgets, per rule.
        public var withheldByRule: [String: Int] = [:]
        /// Rules tripped by this writer.
        public var trips = 0
        /// Changes put into and taken out of the global budget's queue.
        public var queued = 0
        public var dequeued = 0
        /// Changes waiting in the queue, as last counted.
        public var queueDepth = 0
        /// Labels written (applied; negations are not counted), by value.
        public var labelsByValue: [String: Int] = [:]

        /// Applications withheld, all rules together.
        public var withheld: Int { withheldByRule.values.reduce(0, +) }
    }

    let store: LabelStore
    let src: String
    let key: SigningKey
    let keyID: Int64
    let configuration: Configuration
    /// The stream that changes' `eventSeq`s come from, and whose cursor is stored.
    let eventSource: CursorName?
    let logger: Logger
    private let state = Mutex(State())
    private let commitsContinuation: AsyncStream<Int64>.Continuation
    /// The highest label seq after each commit that wrote labels, for live subscribers.
    public let commits: AsyncStream<Int64>
    private let counters = Mutex(Totals())
    /// A cursor read before a batch was cut, with the newest submission queued at that moment.
    struct Checkpoint {
        let cursor: (name: CursorName, seq: Int64)
        let lastQueued: Int64
    }
    /// Checkpoints whose submissions are not all committed yet (used by the run loop only).
    private let checkpoints = Mutex<[Checkpoint]>([])
    /// The id of the newest submission committed.
    private let committedID = Mutex<Int64>(0)
    /// How long each transaction took to commit, as a histogram (`/metrics`, once the service
    /// has set swift-metrics' backend; nowhere otherwise).
    private let commitTimer = Metrics.Timer(label: "labeler_writer_commit_duration_seconds")
    /// For each label a rule applied from a stream event: from the event's own time (the
    /// relay's stamp) to its commit. What a subscriber waits for a label, the relay's lag
    /// included.
    private let eventToLabelTimer = Metrics.Timer(label: "labeler_event_to_label_seconds")

    /// - Parameters:
    ///   - eventSource: the name of the stream whose seqs the changes carry, so that events
    ///     handled again after a restart change nothing; its cursor (the low-water marks given to
    ///     `cursorAdvanced`) is stored with the transactions. Nil: no stream, no cursor.
    public init(
        store: LabelStore, src: String, key: SigningKey, configuration: Configuration = .init(), logger: Logger,
        eventSource: CursorName? = nil
    ) throws(LabelStore.Error) {
        self.eventSource = eventSource
        self.store = store
        self.src = src
        self.key = key
        self.configuration = configuration
        self.logger = logger
        keyID = try store.keyID(forDIDKey: key.publicKey.didKey, at: configuration.now().rawValue)
        (commits, commitsContinuation) = AsyncStream.makeStream(of: Int64.self, bufferingPolicy: .bufferingNewest(1))
        let depth = try store.queueDepth()
        counters.withLock { $0.queueDepth = depth }
    }

    /// The signing key's row id in the store.
    public var currentKeyID: Int64 { keyID }

    /// Queues `changes` for the next transaction and returns the rows written once it has
    /// committed (changes that changed nothing write no row).
    public func submit(_ changes: [LabelChange]) async throws -> [StoredLabel] {
        try await submitReporting(changes).rows
    }

    /// The same, also saying how many changes wait in the global budget's queue (a one-off
    /// command tells its user) or were withheld.
    public func submitReporting(_ changes: [LabelChange]) async throws -> Submitted {
        guard !changes.isEmpty else { return Submitted() }
        return try await withCheckedThrowingContinuation { continuation in
            if !append(changes, thresholdHits: [], restartsSource: false, continuation: continuation) {
                continuation.resume(throwing: Stopped())
            }
        }
    }

    /// The stream's low-water mark moved to `seq`: every event at or below it has finished, so
    /// its changes are queued. The next transaction that covers those changes stores it as the
    /// cursor. Marks only move forward within one sequence; an older one is ignored.
    public func cursorAdvanced(to seq: Int64) {
        state.withLock { s in s.lowWaterMark = max(s.lowWaterMark ?? seq, seq) }
    }

    /// The source's sequence restarted (a relay whose seqs went back): once everything queued
    /// before is committed, drops its cursor and forgets the events recorded on labels and
    /// threshold hits, since its new seqs cannot be compared with the old. Returns once that is
    /// durable. The old sequence's low-water mark is dropped at once; the caller hands over no
    /// more of them after this call.
    public func restartSource() async throws {
        _ = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Submitted, any Error>) in
            if !append([], thresholdHits: [], restartsSource: true, continuation: continuation) {
                continuation.resume(throwing: Stopped())
            }
        }
    }

    /// Adds a submission to the queue and wakes the run loop; false when the writer has stopped.
    private func append(
        _ changes: [LabelChange], thresholdHits: [ThresholdHit], accountStatuses: [AccountStatusChange] = [],
        restartsSource: Bool, continuation: CheckedContinuation<Submitted, any Error>?
    ) -> Bool {
        let (stopped, waiter) = state.withLock { s -> (Bool, CheckedContinuation<Void, Never>?) in
            if s.stopped { return (true, nil) }
            if restartsSource { s.lowWaterMark = nil }
            s.lastID += 1
            let pending = Pending(
                id: s.lastID, changes: changes, thresholdHits: thresholdHits, restartsSource: restartsSource,
                continuation: continuation, accountStatuses: accountStatuses)
            s.pending.append(pending)
            s.queued += pending.size
            defer { s.waiter = nil }
            return (false, s.waiter)
        }
        waiter?.resume()
        return !stopped
    }

    /// Queues `changes` and `thresholdHits` for the next transaction without waiting for it;
    /// waits only while the queue holds `maxQueued` changes or more. The pipeline's workers use
    /// this: see the type's comment for why the cursor stays safe.
    ///
    /// `accountStatuses` (accounts an `#account` event made inactive or active again) are stored
    /// the same way, with the cursor that passes their events.
    public func enqueue(
        _ changes: [LabelChange], thresholdHits: [ThresholdHit] = [], accountStatuses: [AccountStatusChange] = []
    ) async throws {
        guard !changes.isEmpty || !thresholdHits.isEmpty || !accountStatuses.isEmpty else { return }
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
        if !append(
            changes, thresholdHits: thresholdHits, accountStatuses: accountStatuses, restartsSource: false,
            continuation: nil)
        {
            throw Stopped()
        }
    }

    /// Counters so far.
    public var totals: Totals { counters.withLock { $0 } }

    /// Commits batches until cancelled; then commits what is queued, stores the final cursor, and
    /// refuses further changes.
    public func run() async {
        let clock = ContinuousClock()
        var lastCommit = clock.now
        var lastStoredCursor: (name: CursorName, seq: Int64)? = nil
        // One long-lived ticker wakes the loop for the idle cursor, so that waiting for work
        // costs one suspension, not a timer and two child tasks per transaction.
        let ticker = Task { [configuration] in
            while !Task.isCancelled {
                do { try await Task.sleep(for: configuration.idleCursorInterval) } catch { break }
                self.wakeRunLoop()
            }
        }
        defer { ticker.cancel() }
        // One transaction may be committing on the database's queue while the next batch is
        // read, planned and signed: signing (the CPU) and committing (the disk) overlap. The next
        // batch is planned on the committing one's outcome (`Prepared.after`).
        var inFlight: InFlight? = nil
        var nextDrain = clock.now
        await withTaskCancellationHandler {
            while !Task.isCancelled {
                await waitForWork()
                if Task.isCancelled { break }
                let mark = checkpoint()
                var batch = takeBatch(limit: configuration.maxBatch)
                // The queue is looked at on its own schedule, with no commit in flight (so the
                // rows it reads are not being taken out meanwhile); what it gives goes first.
                if configuration.drainsQueue, clock.now >= nextDrain, !batch.contains(where: \.restartsSource) {
                    nextDrain = clock.now + configuration.drainInterval
                    if queueWaiting(), inFlight != nil {
                        if let settled = await settle(inFlight) {
                            lastCommit = clock.now
                            if let stored = settled.transaction.cursor { lastStoredCursor = stored }
                        }
                        inFlight = nil
                    }
                    if let drained = takeFromQueue() { batch.insert(drained, at: 0) }
                }
                // With nothing new to plan, the commit in flight is settled now: if it failed (a
                // stale plan), its retry must not wait for more work to arrive.
                if batch.isEmpty, inFlight != nil {
                    if let settled = await settle(inFlight) {
                        lastCommit = clock.now
                        if let stored = settled.transaction.cursor { lastStoredCursor = stored }
                    }
                    inFlight = nil
                }
                let recent = clock.now - lastCommit < configuration.idleCursorInterval
                if batch.isEmpty && recent { continue }
                let cursor = cursorCovered(by: batch, mark)
                // Nothing to store at all: no transaction (and no fsync).
                if batch.isEmpty && (cursor == nil || cursor?.seq == lastStoredCursor?.seq) { continue }
                // A batch that changes nothing (negations of labels never applied) needs no
                // transaction either; the cursor it covers goes with the next one, or the idle tick's.
                var prepared: Prepared? = nil
                var preparedOnInFlight = true
                do {
                    prepared = try await prepare(
                        batch, cursor: cursor, skipIfNoChange: recent, after: inFlight?.prepared)
                } catch {
                    preparedOnInFlight = false
                }
                if let settled = await settle(inFlight) {
                    lastCommit = clock.now
                    if let stored = settled.transaction.cursor { lastStoredCursor = stored }
                } else if inFlight != nil {
                    // It failed, and was retried on its own: what was planned on it is void.
                    preparedOnInFlight = false
                }
                inFlight = nil
                guard preparedOnInFlight else {
                    if await commitRetrying(batch, cursor: cursor, retryWhileRunning: true, skipIfNoChange: recent) {
                        lastCommit = clock.now
                        if cursor != nil { lastStoredCursor = cursor }
                    }
                    continue
                }
                if let prepared { inFlight = launch(prepared) }
            }
        } onCancel: {
            self.wakeRunLoop()
        }
        _ = await settle(inFlight)
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
        // What is left may still hold a restart among other submissions: commit in order, each
        // restart on its own.
        var remaining = rest[...]
        repeat {
            let cut = Self.batchEnd(remaining, limit: .max)
            let batch = Array(remaining[..<cut])
            remaining = remaining[cut...]
            let cursor = cursorCovered(by: batch, remaining.isEmpty ? mark : nil)
            if batch.isEmpty && cursor == nil { break }
            _ = await commitRetrying(batch, cursor: cursor, retryWhileRunning: false, skipIfNoChange: false)
        } while !remaining.isEmpty
        commitsContinuation.finish()
    }

    /// The newest low-water mark with the last submission queued so far: every change of every
    /// event at or below that mark is in a submission up to that one (see the type's comment).
    private func checkpoint() -> Checkpoint? {
        guard let name = eventSource else { return nil }
        return state.withLock { s in
            s.lowWaterMark.map { Checkpoint(cursor: (name: name, seq: $0), lastQueued: s.lastID) }
        }
    }

    /// The cursor a transaction that ends with `batch` may store: the newest checkpoint whose
    /// submissions are all committed with it. A batch cut short by `maxBatch` may leave changes
    /// of events at or below the newest cursor queued; it then stores an older one.
    private func cursorCovered(by batch: [Pending], _ newest: Checkpoint?) -> (name: CursorName, seq: Int64)? {
        checkpoints.withLock { list in
            if batch.contains(where: \.restartsSource) {
                // Every cursor read so far belongs to the old sequence.
                list.removeAll()
                if let last = batch.last?.id { committedID.withLock { $0 = last } }
                return nil
            }
            if let newest { list.append(newest) }
            let committedThrough = batch.last?.id ?? committedID.withLock { $0 }
            var covered: (name: CursorName, seq: Int64)? = nil
            while let first = list.first, first.lastQueued <= committedThrough {
                covered = first.cursor
                list.removeFirst()
            }
            if let last = batch.last?.id { committedID.withLock { $0 = last } }
            return covered
        }
    }

    /// Everything queued, in order, up to `limit` changes (at least one submission); a restart
    /// of the source is a batch of its own.
    private func takeBatch(limit: Int) -> [Pending] {
        let batch = state.withLock { s -> [Pending] in
            let taken = Self.batchEnd(s.pending[...], limit: limit) - s.pending.startIndex
            let batch = Array(s.pending.prefix(taken))
            s.pending.removeFirst(taken)
            s.queued -= batch.reduce(0) { $0 + $1.size }
            return batch
        }
        releaseRoomWaiters()
        return batch
    }

    /// Where the next batch of `queue` ends: after `limit` changes (at least one submission),
    /// and never across a restart of the source.
    static func batchEnd(_ queue: ArraySlice<Pending>, limit: Int) -> Int {
        var end = queue.startIndex
        var count = 0
        while end < queue.endIndex {
            let next = queue[end]
            if end > queue.startIndex && (next.restartsSource || queue[end - 1].restartsSource) { break }
            if count > 0 && count + next.size > limit { break }
            count += next.size
            end += 1
        }
        return end
    }

    private func releaseRoomWaiters() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            guard s.stopped || s.queued < configuration.maxQueued else { return [] }
            defer { s.roomWaiters.removeAll() }
            return s.roomWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Counts the queue (other processes add to it); whether anything waits.
    private func queueWaiting() -> Bool {
        do {
            let depth = try store.queueDepth()
            counters.withLock { $0.queueDepth = depth }
            return depth > 0
        } catch {
            logger.error("cannot read the label queue; trying again later", metadata: ["error": "\(error)"])
            return false
        }
    }

    /// The next changes the global budget has room for, from the database's queue, as one
    /// submission nobody waits for (numbered as the last one planned, so the cursor logic sees
    /// no new submission). Called after `queueWaiting`, with no commit in flight.
    private func takeFromQueue() -> Pending? {
        do {
            guard counters.withLock({ $0.queueDepth }) > 0 else { return nil }
            var room = configuration.maxBatch
            if let global = configuration.globalBudget {
                let now = configuration.now().unixMicros
                let counts = try store.budgetCounts(
                    of: BudgetLedger.counters(owner: BudgetLedger.globalID, limits: global, at: now))
                room = min(room, BudgetLedger(counts: counts).globalRoom(limits: global, at: now))
            }
            guard room > 0 else { return nil }
            let changes = try store.queuedChanges(limit: room, eventSource: eventSource)
            guard !changes.isEmpty else { return nil }
            return Pending(
                id: committedID.withLock { $0 }, changes: changes, thresholdHits: [], restartsSource: false,
                continuation: nil)
        } catch {
            logger.error("cannot read the label queue; trying again later", metadata: ["error": "\(error)"])
            return nil
        }
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
    /// after the restart, since the cursor was not stored either. Returns whether a transaction
    /// was committed.
    private func commitRetrying(
        _ batch: [Pending], cursor: (name: CursorName, seq: Int64)?, retryWhileRunning: Bool, skipIfNoChange: Bool
    ) async -> Bool {
        var delay = configuration.retryDelay
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await commit(batch, cursor: cursor, skipIfNoChange: skipIfNoChange)
            } catch {
                counters.withLock { $0.failedTransactions += 1 }
                logger.error(
                    "label transaction failed; the labels and the cursor wait for the next attempt",
                    metadata: ["changes": "\(batch.reduce(0) { $0 + $1.changes.count })", "error": "\(error)"])
                if !retryWhileRunning || Task.isCancelled || attempt >= (configuration.attempts ?? .max) {
                    for pending in batch { pending.continuation?.resume(throwing: error) }
                    return false
                }
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
    }

    /// A batch read, planned and signed, ready to commit.
    struct Prepared: Sendable {
        let batch: [Pending]
        let transaction: LabelTransaction
        /// The labels' state once it is committed, for planning the next batch meanwhile.
        let after: [LabelKey: CurrentLabel]
        /// The write epoch once it is committed.
        let epochAfter: Int64
        let changes: Int
        let signSeconds: Double
        /// The budgets once it is committed, and the keys with changes queued.
        let budgetsAfter: BudgetLedger
        let queuedKeysAfter: [LabelKey: Int64]
    }

    /// A commit on its way: the task's result is nil when it failed (its submitters still wait).
    struct InFlight {
        let prepared: Prepared
        let task: Task<Bool, Never>
    }

    /// Reads the stored rows of `batch`'s labels (as `after` leaves them, when a commit is in
    /// flight), plans and signs. Returns nil for a batch it may skip (see `run`), having
    /// answered its submitters.
    private func prepare(
        _ batch: [Pending], cursor: (name: CursorName, seq: Int64)?, skipIfNoChange: Bool, after previous: Prepared?
    ) async throws -> Prepared? {
        let changes = batch.count == 1 ? batch[0].changes : batch.flatMap(\.changes)
        let hits = batch.count == 1 ? batch[0].thresholdHits : batch.flatMap(\.thresholdHits)
        let statuses = batch.flatMap(\.accountStatuses)
        let restart = batch.contains(where: \.restartsSource)
        if restart && eventSource == nil {
            throw LabelStore.Error(description: "a source restart with no source named")
        }
        let keys = changes.map(LabelKey.init)
        let now = configuration.now()
        // The budget windows this batch counts in, and whether the queue matters to it.
        var budgetCounters: Set<BudgetCounter> = []
        var drained: Set<Int64> = []
        for change in changes {
            if let id = change.queueID {
                drained.insert(id)
            } else if case .rule(let rule) = change.origin, change.action == .apply, let budget = change.budget {
                budgetCounters.formUnion(
                    BudgetLedger.counters(owner: rule, limits: budget, at: change.eventTime ?? now.unixMicros))
            }
        }
        let global = configuration.globalBudget
        if let global {
            budgetCounters.formUnion(
                BudgetLedger.counters(owner: BudgetLedger.globalID, limits: global, at: now.unixMicros))
        }
        let depth = counters.withLock { $0.queueDepth }
        let readsQueue = global != nil || depth > 0 || !drained.isEmpty
        var snapshot = try await store.snapshot(
            of: keys, src: src, counters: budgetCounters, queue: readsQueue ? drained : nil, eventSource: eventSource)
        if let previous {
            for key in keys { if let state = previous.after[key] { snapshot.current[key] = state } }
            snapshot.epoch = previous.epochAfter
            snapshot.budgets.overlay(previous.budgetsAfter)
            snapshot.queuedKeys.merge(previous.queuedKeysAfter) { max($0, $1) }
        }
        var budgets = snapshot.budgets
        var queuedKeys = snapshot.queuedKeys
        // While older changes wait, new ones queue behind them rather than take the room first.
        var steps = LabelPlanner.plan(
            changes, current: snapshot.current, src: src, now: now, eventSource: eventSource, budgets: &budgets,
            global: global, queueFirst: global != nil && depth > drained.count, queuedKeys: &queuedKeys)
        if skipIfNoChange && hits.isEmpty && statuses.isEmpty && !restart && drained.isEmpty && !budgets.hasChanges
            && !steps.contains(where: { $0.writes || $0.withheld })
        {
            answer(batch, steps: steps, written: [])
            counters.withLock { $0.skippedBatches += 1 }
            return nil
        }
        let clock = ContinuousClock()
        let signing = clock.now
        try await sign(&steps)
        var transaction = LabelTransaction(
            src: src, time: now, keyID: keyID, epoch: snapshot.epoch, steps: steps, thresholdHits: hits, cursor: cursor,
            restartedSource: restart ? eventSource : nil, budgets: budgets.hasChanges ? budgets : nil,
            eventSource: eventSource)
        transaction.accountStatuses = statuses
        // Only this batch's own changes: the one before it is committed by the time the next
        // batch reads its snapshot.
        var after: [LabelKey: CurrentLabel] = [:]
        for step in steps where step.label != nil || step.lockOnlySeq != nil {
            let key = LabelKey(step.change)
            if let label = step.label {
                after[key] = CurrentLabel(
                    seq: nil, negated: label.isNegation, cts: label.cts, exp: label.exp, locked: step.locked,
                    event: step.event)
            } else {
                after[key] = snapshot.current[key].map {
                    var state = $0; state.locked = true; return state
                }
            }
        }
        return Prepared(
            batch: batch, transaction: transaction, after: after,
            epochAfter: transaction.changesLabels ? snapshot.epoch + 1 : snapshot.epoch, changes: changes.count,
            signSeconds: Self.seconds(clock.now - signing), budgetsAfter: budgets, queuedKeysAfter: queuedKeys)
    }

    /// Starts committing `prepared`; on success the submitters get their rows at once.
    private func launch(_ prepared: Prepared) -> InFlight {
        InFlight(prepared: prepared, task: Task { await write(prepared) == nil })
    }

    /// Commits `prepared` and delivers its rows; returns the error when the store refused it (a
    /// stale plan is counted).
    private func write(_ prepared: Prepared) async -> LabelStore.Error? {
        let clock = ContinuousClock()
        let started = clock.now
        let outcome: Result<[StoredLabel], LabelStore.Error>
        do { outcome = .success(try await store.commit(prepared.transaction)) } catch { outcome = .failure(error) }
        switch outcome {
        case .success(let rows):
            let took = clock.now - started
            commitTimer.record(duration: took)
            recordEventToLabel(prepared.transaction.steps)
            deliver(rows, of: prepared, commitSeconds: Self.seconds(took))
            return nil
        case .failure(let error):
            if error.isStalePlan { counters.withLock { $0.stalePlans += 1 } }
            return error
        }
    }

    /// Waits for the commit in flight. If it failed, commits its batch again on its own (planned
    /// anew). Returns what it committed, or nil when nothing was in flight or it had to retry.
    private func settle(_ inFlight: InFlight?) async -> Prepared? {
        guard let inFlight else { return nil }
        if await inFlight.task.value { return inFlight.prepared }
        _ = await commitRetrying(
            inFlight.prepared.batch, cursor: inFlight.prepared.transaction.cursor, retryWhileRunning: true,
            skipIfNoChange: false)
        return nil
    }

    /// Counts a committed transaction, hands each submitter what became of its own changes and
    /// tells the subscribers.
    private func deliver(_ written: [StoredLabel], of prepared: Prepared, commitSeconds: Double) {
        let steps = prepared.transaction.steps
        let trips = prepared.transaction.budgets?.newTrips ?? []
        counters.withLock {
            $0.batches += 1
            $0.labels += written.count
            $0.largestBatch = max($0.largestBatch, prepared.changes)
            $0.commitSeconds += commitSeconds
            $0.signSeconds += prepared.signSeconds
            for (rule, count) in prepared.budgetsAfter.withheld { $0.withheldByRule[rule, default: 0] += count }
            $0.trips += trips.count
            let queued = steps.count { $0.queued && $0.change.queueID == nil }
            let dequeued = steps.count { $0.change.queueID != nil && !$0.queued }
            $0.queued += queued
            $0.dequeued += dequeued
            $0.queueDepth = max(0, $0.queueDepth + queued - dequeued)
            for row in written where !row.label.isNegation { $0.labelsByValue[row.label.val, default: 0] += 1 }
        }
        for trip in trips {
            logger.warning(
                "rule tripped its budget: its labels are withheld until `labeler rules reset \(trip.ruleID)`",
                metadata: [
                    "rule": "\(trip.ruleID)", "limit": "\(trip.limit)/\(trip.window.rawValue)",
                    "label": "\(trip.label)",
                ])
        }
        answer(prepared.batch, steps: steps, written: written)
        if let last = written.last?.seq { commitsContinuation.yield(last) }
    }

    /// Records each written label's time since its stream event.
    private func recordEventToLabel(_ steps: [LabelStep]) {
        let now = Datetime.now().unixMicros
        for step in steps where step.label != nil && step.change.eventSeq != nil {
            guard let time = step.change.eventTime else { continue }
            eventToLabelTimer.recordMicroseconds(max(0, now - time))
        }
    }

    /// Hands each submitter of `batch` what became of its changes. The planner makes one step per
    /// change, in order, and the store one row per step with a label, in the steps' order.
    private func answer(_ batch: [Pending], steps: [LabelStep], written: [StoredLabel]) {
        guard batch.contains(where: { $0.continuation != nil }) else { return }
        var step = steps.startIndex
        var row = written.startIndex
        for pending in batch {
            var mine = Submitted()
            for _ in pending.changes {
                if steps[step].label != nil {
                    mine.rows.append(written[row])
                    row += 1
                }
                if steps[step].queued { mine.queued += 1 }
                if steps[step].withheld { mine.withheld += 1 }
                step += 1
            }
            pending.continuation?.resume(returning: mine)
        }
    }

    /// Plans, signs and commits one transaction on its own: every change and threshold hit of
    /// `batch`, and the cursor. Returns false when it skipped a batch that changes nothing.
    private func commit(_ batch: [Pending], cursor: (name: CursorName, seq: Int64)?, skipIfNoChange: Bool) async throws
        -> Bool
    {
        while true {
            guard let prepared = try await prepare(batch, cursor: cursor, skipIfNoChange: skipIfNoChange, after: nil)
            else {
                return false
            }
            guard let error = await write(prepared) else { return true }
            // Another process wrote meanwhile: plan again on what it wrote.
            if !error.isStalePlan { throw error }
        }
    }

    /// Signs the labels of `steps` with the current key: on every core for a batch, in place for
    /// one label (a signature costs tens of microseconds; a task hop would cost as much).
    private func sign(_ steps: inout [LabelStep]) async throws {
        let indices = steps.indices.filter { steps[$0].label != nil }
        guard !indices.isEmpty else { return }
        let key = self.key
        if indices.count < 4 {
            for i in indices { steps[i].label = try steps[i].label?.signed(with: key) }
            return
        }
        let labels = indices.map { steps[$0].label! }
        let workers = min(Self.cores, labels.count)
        let signed = try await withThrowingTaskGroup(of: (Int, [Label]).self) { group in
            for worker in 0..<workers {
                group.addTask {
                    var out: [Label] = []
                    out.reserveCapacity(labels.count / workers + 1)
                    for i in stride(from: worker, to: labels.count, by: workers) {
                        out.append(try labels[i].signed(with: key))
                    }
                    return (worker, out)
                }
            }
            var parts = [[Label]](repeating: [], count: workers)
            for try await (worker, out) in group { parts[worker] = out }
            return parts
        }
        for (n, i) in indices.enumerated() { steps[i].label = signed[n % workers][n / workers] }
    }

    /// Cores available to this process.
    static let cores: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    static func seconds(_ duration: Duration) -> Double {
        duration.inSeconds
    }
}

#if canImport(Glibc)
import Glibc
#endif
