/// Everything a ``KeyedScheduler`` guards with its lock: the state machine plus the
/// continuations that interpret its actions (suspended submitters, idle workers, shutdown
/// waiters) and what each worker slot is running, for timeouts and aborts.
///
/// Every method runs under the lock. Continuations to resume are collected in `wakeups` and
/// resumed by the caller once the lock is released (see `KeyedScheduler.withCore`): a resume can
/// enter the kernel to wake a thread, and nobody should wait for the lock meanwhile. Handlers and
/// the caller's hooks run outside it too.
@usableFromInline
struct SchedulerCore<Key: Hashable & Sendable, Payload: Sendable> {
    @usableFromInline typealias Machine = KeyedSchedulerStateMachine<Key, Payload>
    @usableFromInline typealias Job = Machine.Job
    @usableFromInline typealias Submission = KeyedScheduler<Key, Payload>.Submission

    @usableFromInline
    enum Phase {
        /// Taking submissions.
        case accepting
        /// Shutting down: no more submissions, queued work still runs.
        case draining
        /// The shutdown deadline passed (or `run()` was cancelled): running handlers are
        /// cancelled, nothing more starts.
        case aborting
        /// Nothing runs any more; the low-water mark is final.
        case stopped
    }

    /// A submitter suspended because a bound was reached, holding its events: those from `next`
    /// on are not accepted yet. It resumes once the last is.
    @usableFromInline
    struct ParkedSubmission {
        @usableFromInline let id: Int
        @usableFromInline let events: [Submission]
        @usableFromInline var next: Int
        @usableFromInline let continuation: CheckedContinuation<Result<Void, KeyedSchedulerError>, Never>

        @inlinable
        init(
            id: Int, events: [Submission], next: Int,
            continuation: CheckedContinuation<Result<Void, KeyedSchedulerError>, Never>
        ) {
            self.id = id
            self.events = events
            self.next = next
            self.continuation = continuation
        }
    }

    /// A worker with nothing to run, waiting for a job (or `nil`: stop).
    @usableFromInline
    struct IdleWorker {
        @usableFromInline let slot: Int
        @usableFromInline let continuation: CheckedContinuation<Job?, Never>

        @inlinable
        init(slot: Int, continuation: CheckedContinuation<Job?, Never>) {
            self.slot = slot
            self.continuation = continuation
        }
    }

    /// What one worker slot is running, and how to interrupt it.
    @usableFromInline
    struct WorkerSlot {
        @usableFromInline var runningSeq: Int64?
        @usableFromInline var startedAt: ContinuousClock.Instant?
        /// The slot's worker task is being cancelled (timeout or abort): it must be replaced.
        @usableFromInline var cancelRequested = false
        /// The running event passed its timeout.
        @usableFromInline var timedOut = false
        /// A signal for the slot's supervisor, latched while nobody waits for it.
        @usableFromInline var signalled = false
        @usableFromInline var supervisor: CheckedContinuation<Void, Never>?

        @inlinable init() {}

        /// Forgets the event; keeps the supervisor's signal.
        @inlinable
        mutating func clearEvent() {
            runningSeq = nil
            startedAt = nil
            cancelRequested = false
            timedOut = false
        }
    }

    /// The answer to a submission attempt.
    @usableFromInline
    enum SubmitAttempt: Sendable {
        case accepted
        case rejected(KeyedSchedulerError)
        /// The submitter must wait; for a batch, the events before `from` were accepted.
        case mustPark(from: Int)
    }

    /// What a worker does after reporting an event.
    @usableFromInline
    struct AfterCompletion: Sendable {
        @usableFromInline var next: Job?
        @usableFromInline var failure: SchedulerFailure?
        /// The worker's task was cancelled by a timeout or an abort: it must end and be
        /// replaced by a fresh task (cancellation cannot be undone).
        @usableFromInline var mustEnd = false

        @inlinable init() {}
    }

    /// A continuation to resume once the lock is released, with its value.
    @usableFromInline
    enum Wakeup: Sendable {
        case worker(CheckedContinuation<Job?, Never>, Job?)
        case submitter(CheckedContinuation<Result<Void, KeyedSchedulerError>, Never>, Result<Void, KeyedSchedulerError>)
        case signal(CheckedContinuation<Void, Never>)

        @inlinable
        func perform() {
            switch self {
            case .worker(let continuation, let job): continuation.resume(returning: job)
            case .submitter(let continuation, let result): continuation.resume(returning: result)
            case .signal(let continuation): continuation.resume()
            }
        }
    }

    /// Resumptions decided under the lock, performed after it.
    @usableFromInline var wakeups: [Wakeup] = []
    @usableFromInline var machine: Machine
    @usableFromInline var phase = Phase.accepting
    @usableFromInline var runStarted = false
    @usableFromInline let timeout: Duration?
    @usableFromInline let clock = ContinuousClock()
    @usableFromInline var parked = RingBuffer<ParkedSubmission>()
    @usableFromInline var nextParkedID = 0
    @usableFromInline var idleWorkers = RingBuffer<IdleWorker>()
    /// Jobs the machine started while no worker was idle; the next free worker takes them.
    @usableFromInline var handoffs = RingBuffer<Job>()
    @usableFromInline var slots: [WorkerSlot]
    @usableFromInline var stopWaiters: [CheckedContinuation<Void, Never>] = []
    @usableFromInline let lowWaterMarks: AsyncStream<Int64>.Continuation

    @usableFromInline
    init(
        configuration: KeyedSchedulerConfiguration,
        startingAfter: Int64?,
        lowWaterMarks: AsyncStream<Int64>.Continuation
    ) {
        machine = Machine(configuration: configuration, startingAfter: startingAfter)
        timeout = configuration.timeout
        slots = Array(repeating: WorkerSlot(), count: configuration.concurrency)
        self.lowWaterMarks = lowWaterMarks
    }

    @inlinable
    var metrics: KeyedSchedulerMetrics {
        var snapshot = machine.metrics
        snapshot.waitingSubmitters = parked.count
        return snapshot
    }

    // MARK: Submitting

    /// The highest seq accepted or held by a suspended submitter: a new seq must be above it.
    @inlinable
    var lastSeq: Int64? {
        parked.last?.events.last?.seq ?? machine.highestSeq
    }

    /// Accepts the event if it is valid and fits, without suspending anyone.
    @inlinable
    mutating func trySubmit(key: Key, seq: Int64, payload: Payload) -> SubmitAttempt {
        guard phase == .accepting else { return .rejected(.shutDown) }
        if let previous = lastSeq, seq <= previous {
            return .rejected(.seqNotIncreasing(seq: seq, previous: previous))
        }
        // Suspended submitters go first: admission stays in arrival order.
        guard parked.isEmpty else { return .mustPark(from: 0) }
        switch machine.submit(key: key, seq: seq, payload: payload) {
        case .start(let job):
            dispatch(job)
            return .accepted
        case .enqueued:
            return .accepted
        case .mustWait:
            return .mustPark(from: 0)
        }
    }

    /// Accepts `batch[start...]` in order while the events fit, without suspending anyone. The
    /// seqs are checked first, so a batch with a bad seq is refused whole.
    @inlinable
    mutating func trySubmit(_ batch: [Submission], from start: Int) -> SubmitAttempt {
        guard phase == .accepting else { return .rejected(.shutDown) }
        var previous = lastSeq
        for index in start..<batch.count {
            let seq = batch[index].seq
            if let previous, seq <= previous { return .rejected(.seqNotIncreasing(seq: seq, previous: previous)) }
            previous = seq
        }
        guard parked.isEmpty else { return .mustPark(from: start) }
        var index = start
        while index < batch.count {
            let event = batch[index]
            switch machine.submit(key: event.key, seq: event.seq, payload: event.payload) {
            case .start(let job): dispatch(job)
            case .enqueued: break
            case .mustWait: return .mustPark(from: index)
            }
            index += 1
        }
        return .accepted
    }

    /// Admits suspended submissions, oldest first, while they fit; a submitter resumes once all
    /// its events are in. A job that may start goes to `next` when that is empty (the calling
    /// worker runs it), else to a worker.
    @inlinable
    mutating func admitParked(into next: inout Job?) {
        while let head = parked.first {
            var index = head.next
            while index < head.events.count {
                let event = head.events[index]
                switch machine.submit(key: event.key, seq: event.seq, payload: event.payload) {
                case .mustWait:
                    parked[0].next = index
                    return
                case .enqueued:
                    break
                case .start(let job):
                    if next == nil { next = job } else { dispatch(job) }
                }
                index += 1
            }
            parked.popFirst()
            wakeups.append(.submitter(head.continuation, .success(())))
        }
    }

    @inlinable
    mutating func cancelParked(id: Int) {
        guard let position = parked.firstPosition(where: { $0.id == id }) else { return }
        wakeups.append(.submitter(parked.remove(at: position).continuation, .failure(.cancelled)))
    }

    @inlinable
    mutating func rejectParked() {
        parked.drain { wakeups.append(.submitter($0.continuation, .failure(.shutDown))) }
    }
}
