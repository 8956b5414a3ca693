/// The scheduling rules of ``KeyedScheduler`` as a pure value: no tasks, no locks, no clocks.
/// Each call says what happened and returns what to do, so every rule is testable step by step.
///
/// - Events of one key run one at a time, in submission order; events of different keys run
///   concurrently, at most `concurrency` at once.
/// - Waiting events are bounded in total (`queueLimit`) and per key (`perKeyBacklogLimit`).
///   A submission that would pass a bound is refused with ``SubmitAction/mustWait(_:)`` and
///   leaves no trace: the caller holds it and offers it again after a completion.
/// - Keys whose next event may start wait in a FIFO. A key that finishes an event while other
///   keys wait goes to the back of it, so a hot key cannot starve the others.
/// - The low-water mark is the highest submitted seq at or below which every submitted event
///   has finished (succeeded, failed or timed out); abandoned events hold it back.
///
/// Per event: a few hash-table operations and O(1) queue work (amortised), no scans.
///
/// The implementation is `@inlinable` (here and in the scheduler) so that it is specialised for
/// the caller's key and payload types: unspecialised generic code costs several times more per
/// event.
public struct KeyedSchedulerStateMachine<Key: Hashable & Sendable, Payload> {
    /// An accepted event. A job returned by ``submit(key:seq:payload:)`` or
    /// ``finished(key:seq:outcome:)`` has been started: the caller must run it and report it.
    public struct Job {
        public let key: Key
        public let seq: Int64
        public let payload: Payload
        /// Where the seq sits in the low-water-mark window.
        @usableFromInline let ticket: Int

        @inlinable
        init(key: Key, seq: Int64, payload: Payload, ticket: Int) {
            self.key = key
            self.seq = seq
            self.payload = payload
            self.ticket = ticket
        }
    }

    /// What to do with a submission.
    public enum SubmitAction {
        /// Accepted, and may run now: the caller must run it and later call `finished`.
        case start(Job)
        /// Accepted; it will be returned from a later `finished` when its turn comes.
        case enqueued
        /// Not accepted, because of the given bound: offer it again after a completion.
        case mustWait(WaitReason)
    }

    /// The bound a refused submission ran into.
    public enum WaitReason: Sendable, Hashable {
        /// `queueLimit` events wait already.
        case queueFull
        /// The event's key has `perKeyBacklogLimit` events waiting already.
        case keyBacklogFull
    }

    /// What to do after an event ended.
    public struct Completion {
        /// An event that has been started in the slot just freed (of the same key or of the
        /// key at the front of the ready FIFO), to be run by the caller.
        public var start: Job?
        /// The new low-water mark, when this completion moved it forward.
        public var advancedLowWaterMark: Int64?

        @inlinable init() {}
    }

    @usableFromInline
    struct KeyState {
        @usableFromInline var isRunning: Bool
        @usableFromInline var runningSeq: Int64
        @usableFromInline var runningTicket: Int
        /// Waiting events as a linked list through `queued`: first cell, last cell, length.
        @usableFromInline var backlogHead = -1
        @usableFromInline var backlogTail = -1
        @usableFromInline var backlogCount = 0

        @inlinable
        init(runningSeq: Int64, ticket: Int) {
            isRunning = true
            self.runningSeq = runningSeq
            runningTicket = ticket
        }

        @inlinable
        init() {
            isRunning = false
            runningSeq = 0
            runningTicket = 0
        }
    }

    /// A cell of the pool that holds every waiting event, linked per key, so that a key needs
    /// no queue of its own (most keys have one or two events waiting at most).
    @usableFromInline
    struct QueuedCell {
        @usableFromInline var job: Job?
        @usableFromInline var next: Int

        @inlinable
        init(job: Job) {
            self.job = job
            next = -1
        }
    }

    @usableFromInline let concurrency: Int
    @usableFromInline let queueLimit: Int
    @usableFromInline let perKeyBacklogLimit: Int

    /// Keys with a running or waiting event; a key with neither is removed.
    @usableFromInline var keys: [Key: KeyState] = [:]
    /// Keys not running whose next event may start, oldest first.
    @usableFromInline var readyKeys = RingBuffer<Key>()
    @usableFromInline var queued: ContiguousArray<QueuedCell> = []
    @usableFromInline var firstFreeCell = -1
    @usableFromInline var window: LowWaterMarkWindow
    @usableFromInline var backlogs = BacklogHistogram()
    @usableFromInline var counters = KeyedSchedulerMetrics()
    @usableFromInline var isAborted = false

    /// - Parameters:
    ///   - configuration: the limits (its timeout is not used here).
    ///   - startingAfter: a cursor: every seq at or below it counts as already finished, and
    ///     it is the low-water mark until a later one is reached.
    public init(configuration: KeyedSchedulerConfiguration = .init(), startingAfter: Int64? = nil) {
        configuration.check()
        concurrency = configuration.concurrency
        queueLimit = configuration.queueLimit
        perKeyBacklogLimit = configuration.perKeyBacklogLimit
        window = LowWaterMarkWindow(startingAfter: startingAfter)
    }

    /// The highest seq such that every submitted seq at or below it has finished; `nil` before
    /// that is true of any seq (and no starting cursor was given).
    @inlinable public var lowWaterMark: Int64? { window.mark }

    /// The highest seq submitted (or the starting cursor).
    @inlinable public var highestSeq: Int64? { window.highestSeq }

    /// True when nothing runs and nothing can start any more: nothing is waiting, or
    /// ``abort()`` was called.
    @inlinable
    public var isQuiescent: Bool {
        counters.inFlight == 0 && (counters.queueDepth == 0 || isAborted)
    }

    /// The counters now (`waitingSubmitters` is the caller's to fill in).
    @inlinable
    public var metrics: KeyedSchedulerMetrics {
        var snapshot = counters
        snapshot.largestKeyBacklog = backlogs.largest
        return snapshot
    }

    /// Offers an event.
    /// - Precondition: `seq` is above ``highestSeq``, and ``abort()`` has not been called.
    @inlinable
    public mutating func submit(key: Key, seq: Int64, payload: Payload) -> SubmitAction {
        precondition(!isAborted, "submit after abort")
        precondition(window.highestSeq.map { seq > $0 } ?? true, "seqs must be submitted in increasing order")
        if let index = keys.index(forKey: key) {
            var state = keys.values[index]
            if state.backlogCount >= perKeyBacklogLimit { return .mustWait(.keyBacklogFull) }
            if counters.queueDepth >= queueLimit { return .mustWait(.queueFull) }
            appendToBacklog(accept(key: key, seq: seq, payload: payload), of: &state)
            keys.values[index] = state
            return .enqueued
        }
        if counters.inFlight < concurrency {
            let job = accept(key: key, seq: seq, payload: payload)
            keys[key] = KeyState(runningSeq: seq, ticket: job.ticket)
            counters.inFlight += 1
            return .start(job)
        }
        if perKeyBacklogLimit == 0 { return .mustWait(.keyBacklogFull) }
        if counters.queueDepth >= queueLimit { return .mustWait(.queueFull) }
        var state = KeyState()
        appendToBacklog(accept(key: key, seq: seq, payload: payload), of: &state)
        keys[key] = state
        readyKeys.append(key)
        return .enqueued
    }

    /// Reports that the running event `seq` of `key` ended with `outcome`, and starts what may
    /// start in its slot.
    /// - Precondition: that event is running (was started and not yet reported).
    @inlinable
    public mutating func finished(key: Key, seq: Int64, outcome: EventOutcome) -> Completion {
        guard let index = keys.index(forKey: key) else { preconditionFailure("finished: key has no running event") }
        var state = keys.values[index]
        precondition(state.isRunning && state.runningSeq == seq, "finished: seq is not the key's running event")
        counters.inFlight -= 1
        var completion = Completion()
        switch outcome {
        case .succeeded: break
        case .failed: counters.failed += 1
        case .timedOut: counters.timedOut += 1
        case .abandoned: counters.abandoned += 1
        }
        if outcome != .abandoned {
            counters.finished += 1
            completion.advancedLowWaterMark = window.finish(ticket: state.runningTicket)
        }
        state.isRunning = false

        if state.backlogCount == 0 {
            keys.remove(at: index)
            completion.start = startFrontReadyKey()
        } else if isAborted {
            keys.values[index] = state
        } else if readyKeys.isEmpty {
            let job = startFromBacklog(of: &state)
            keys.values[index] = state
            completion.start = job
        } else {
            keys.values[index] = state
            readyKeys.append(key)
            completion.start = startFrontReadyKey()
        }
        return completion
    }

    /// Stops starting events, for a shutdown whose deadline passed: from now on `finished`
    /// starts nothing and waiting events never start, so they stay unfinished and the
    /// low-water mark stays below them.
    @inlinable
    public mutating func abort() {
        isAborted = true
    }

    // MARK: - Internals

    @inlinable
    mutating func accept(key: Key, seq: Int64, payload: Payload) -> Job {
        counters.submitted += 1
        return Job(key: key, seq: seq, payload: payload, ticket: window.append(seq))
    }

    @inlinable
    mutating func startFrontReadyKey() -> Job? {
        guard !isAborted, let key = readyKeys.popFirst() else { return nil }
        guard let index = keys.index(forKey: key) else { preconditionFailure("ready key without state") }
        var state = keys.values[index]
        let job = startFromBacklog(of: &state)
        keys.values[index] = state
        return job
    }

    /// Pops the first waiting event of `state` and marks it running.
    @inlinable
    mutating func startFromBacklog(of state: inout KeyState) -> Job {
        let cell = state.backlogHead
        guard let job = queued[cell].job.take() else { preconditionFailure("empty backlog cell") }
        state.backlogHead = queued[cell].next
        if state.backlogHead < 0 { state.backlogTail = -1 }
        queued[cell].next = firstFreeCell
        firstFreeCell = cell
        state.backlogCount -= 1
        backlogs.shrank(to: state.backlogCount)
        counters.queueDepth -= 1
        state.isRunning = true
        state.runningSeq = job.seq
        state.runningTicket = job.ticket
        counters.inFlight += 1
        return job
    }

    @inlinable
    mutating func appendToBacklog(_ job: Job, of state: inout KeyState) {
        let cell: Int
        if firstFreeCell >= 0 {
            cell = firstFreeCell
            firstFreeCell = queued[cell].next
            queued[cell] = QueuedCell(job: job)
        } else {
            cell = queued.count
            queued.append(QueuedCell(job: job))
        }
        if state.backlogTail >= 0 { queued[state.backlogTail].next = cell } else { state.backlogHead = cell }
        state.backlogTail = cell
        state.backlogCount += 1
        backlogs.grew(to: state.backlogCount)
        counters.queueDepth += 1
    }
}

extension KeyedSchedulerStateMachine.Job: Sendable where Payload: Sendable {}
extension KeyedSchedulerStateMachine.SubmitAction: Sendable where Payload: Sendable {}
extension KeyedSchedulerStateMachine.Completion: Sendable where Payload: Sendable {}
