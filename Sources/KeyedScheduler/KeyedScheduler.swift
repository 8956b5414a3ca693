import Synchronization

/// Runs an async handler for a stream of events, one at a time per key and concurrently
/// across keys, with bounded queues, per-event timeouts and a low-water mark that says up to
/// which seq everything is done (the cursor to persist and resume from).
///
/// Host it with ``run()`` (for example as a ServiceLifecycle service) while a producer calls
/// ``submit(key:seq:payload:)``, or ``submit(_:)`` with several events at once (one lock
/// acquisition, at most one suspension per batch); end it with ``shutdown(deadline:)``.
///
/// Guarantees:
/// - Events of one key run one at a time, in submission order; at most
///   `configuration.concurrency` run at once. Events without a natural key should be given a
///   key of their own (a sentinel), which serialises them among themselves.
/// - Nothing is dropped: when the queue or a key's backlog is full, `submit` suspends until
///   the event is admitted, which holds the producer back (backpressure). Suspended submitters
///   are admitted in arrival order.
/// - Failure isolation: a handler that throws or times out is reported to `onFailure`, counted,
///   and its key's next event runs. Such events count as finished: the low-water mark passes
///   them (they are not retried).
/// - Timeouts: a handler running past `configuration.timeout` has its task cancelled; its event
///   counts as finished (timed out) when the handler returns. The key and the slot stay busy
///   until then, so one-at-a-time per key holds even for slow handlers; a handler that ignores
///   cancellation keeps them busy.
/// - Shutdown: queued and running work drains until the deadline; what has not finished by then
///   is cancelled and does not count as finished, so the low-water mark stays below it and it is
///   redone after a restart (at-least-once).
///
/// The work runs on a fixed pool of `concurrency` worker tasks that take ready events from the
/// state machine one after another, so there is no task per event; timeouts are watched by one
/// timer task.
public final class KeyedScheduler<Key: Hashable & Sendable, Payload: Sendable>: Sendable {
    /// Handles one event: its key, its seq and its payload. Throwing marks the event failed.
    public typealias Handler = @Sendable (Key, Int64, Payload) async throws -> Void
    /// Told about each failed or timed-out event, after its handler returned.
    public typealias FailureHook = @Sendable (Key, Int64, SchedulerFailure) -> Void

    @usableFromInline let configuration: KeyedSchedulerConfiguration
    @usableFromInline let handler: Handler
    @usableFromInline let onFailure: FailureHook
    @usableFromInline let core: Mutex<SchedulerCore<Key, Payload>>

    /// The low-water mark each time it moves forward, for a writer that persists it. Holds only
    /// the newest value when the reader is behind; ends once the scheduler has stopped (after
    /// the final mark). Meant for one reader.
    public let lowWaterMarks: AsyncStream<Int64>

    /// - Parameters:
    ///   - configuration: concurrency, queue bounds and timeout.
    ///   - startingAfter: the persisted cursor: seqs at or below it are done already and must
    ///     not be submitted; it is the low-water mark until a later one is reached.
    ///   - onFailure: told about failed and timed-out events, for the caller to log.
    ///   - handler: runs each event.
    public init(
        configuration: KeyedSchedulerConfiguration = .init(),
        startingAfter: Int64? = nil,
        onFailure: @escaping FailureHook = { _, _, _ in },
        handler: @escaping Handler
    ) {
        self.configuration = configuration
        self.handler = handler
        self.onFailure = onFailure
        let (stream, continuation) = AsyncStream.makeStream(of: Int64.self, bufferingPolicy: .bufferingNewest(1))
        lowWaterMarks = stream
        core = Mutex(
            SchedulerCore(configuration: configuration, startingAfter: startingAfter, lowWaterMarks: continuation)
        )
    }

    /// Runs `body` under the lock, then resumes the continuations it decided to resume, once the
    /// lock is released: resuming can enter the kernel to wake a thread, and other threads (the
    /// source submitting, workers completing) should not wait for the lock meanwhile.
    @inlinable
    func withCore<Result: Sendable>(_ body: (inout SchedulerCore<Key, Payload>) -> Result) -> Result {
        let (result, wakeups) = core.withLock { core -> (Result, [SchedulerCore<Key, Payload>.Wakeup]) in
            let result = body(&core)
            var wakeups: [SchedulerCore<Key, Payload>.Wakeup] = []
            if !core.wakeups.isEmpty { swap(&wakeups, &core.wakeups) }
            return (result, wakeups)
        }
        for wakeup in wakeups { wakeup.perform() }
        return result
    }

    /// The highest seq such that every submitted event at or below it has finished (or the
    /// starting cursor); `nil` before any has.
    public var lowWaterMark: Int64? {
        withCore { $0.machine.lowWaterMark }
    }

    /// The counters now.
    public var metrics: KeyedSchedulerMetrics {
        withCore { $0.metrics }
    }

    /// One event for ``submit(_:)``.
    public struct Submission: Sendable {
        public var key: Key
        public var seq: Int64
        public var payload: Payload

        @inlinable
        public init(key: Key, seq: Int64, payload: Payload) {
            self.key = key
            self.seq = seq
            self.payload = payload
        }
    }

    /// Hands an event over. Returns once it is accepted (queued or started), suspending while
    /// the queue or the key's backlog is full.
    ///
    /// - Parameter seq: must be above every seq submitted before (gaps are fine) and above the
    ///   starting cursor.
    /// - Throws: ``KeyedSchedulerError``; the event was not accepted then.
    @inlinable
    public func submit(key: Key, seq: Int64, payload: Payload) async throws(KeyedSchedulerError) {
        let attempt = withCore { $0.trySubmit(key: key, seq: seq, payload: payload) }
        switch attempt {
        case .accepted: return
        case .rejected(let error): throw error
        case .mustPark:
            try await submitWhenAdmitted([Submission(key: key, seq: seq, payload: payload)], from: 0)
        }
    }

    /// Hands several events over, in order, as ``submit(key:seq:payload:)`` would one after
    /// another, but taking the lock once for all that fit and suspending at most once: when a
    /// bound is reached, the rest are admitted one by one as room appears and the caller resumes
    /// when the last is in. A producer that keeps the queue full is then woken once per batch
    /// rather than once per event.
    ///
    /// ```swift
    /// try await scheduler.submit(events.map { .init(key: $0.did, seq: $0.seq, payload: $0) })
    /// ```
    ///
    /// - Parameter batch: seqs increasing, above every seq submitted before.
    /// - Throws: ``KeyedSchedulerError``. A seq out of order refuses the whole batch. After
    ///   `shutDown` or `cancelled` while waiting, the events before the first that had to wait
    ///   were accepted (and run) and the others were not.
    @inlinable
    public func submit(_ batch: [Submission]) async throws(KeyedSchedulerError) {
        let attempt = withCore { $0.trySubmit(batch, from: 0) }
        switch attempt {
        case .accepted: return
        case .rejected(let error): throw error
        case .mustPark(let from): try await submitWhenAdmitted(batch, from: from)
        }
    }

    /// Suspends until `batch[start...]` is admitted, the scheduler shuts down or the task is
    /// cancelled.
    @usableFromInline
    func submitWhenAdmitted(_ batch: [Submission], from start: Int) async throws(KeyedSchedulerError) {
        let id = withCore { core in
            defer { core.nextParkedID += 1 }
            return core.nextParkedID
        }
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation {
                (continuation: CheckedContinuation<Result<Void, KeyedSchedulerError>, Never>) in
                withCore { core in
                    // The state may have changed since the first attempt: try again first.
                    switch core.trySubmit(batch, from: start) {
                    case .accepted:
                        core.wakeups.append(.submitter(continuation, .success(())))
                    case .rejected(let error):
                        core.wakeups.append(.submitter(continuation, .failure(error)))
                    case .mustPark where Task.isCancelled:
                        core.wakeups.append(.submitter(continuation, .failure(.cancelled)))
                    case .mustPark(let from):
                        core.parked.append(.init(id: id, events: batch, next: from, continuation: continuation))
                    }
                }
            }
        } onCancel: {
            withCore { $0.cancelParked(id: id) }
        }
        try result.get()
    }

    /// Stops taking submissions (suspended and later submitters get
    /// ``KeyedSchedulerError/shutDown``), lets queued and running work finish until `deadline`,
    /// then cancels what is left, and returns the final low-water mark once nothing runs.
    ///
    /// Work cancelled at the deadline does not count as finished, so the returned mark stays
    /// below it. If `run()` was never called, queued work waits for the deadline and is
    /// abandoned. Cancelling the calling task moves the deadline to now.
    public func shutdown(deadline: ContinuousClock.Instant) async -> Int64? {
        withCore { $0.beginDraining() }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // Wakes at the deadline, or when cancelled: by this task's cancellation or
                // because the drain ended (then aborting does nothing).
                try? await Task.sleep(until: deadline, clock: .continuous)
                self.withCore { $0.abort() }
            }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                withCore { core in
                    if core.phase == .stopped {
                        core.wakeups.append(.signal(continuation))
                    } else {
                        core.stopWaiters.append(continuation)
                    }
                }
            }
            group.cancelAll()
        }
        return lowWaterMark
    }

    /// ``shutdown(deadline:)`` with a deadline `gracePeriod` from now.
    public func shutdown(gracePeriod: Duration) async -> Int64? {
        await shutdown(deadline: .now + gracePeriod)
    }
}
