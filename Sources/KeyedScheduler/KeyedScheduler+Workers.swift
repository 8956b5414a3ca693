import Synchronization

extension KeyedScheduler {
    /// How a worker task ended.
    @usableFromInline
    enum WorkerEnd: Sendable {
        /// No more work will come: the slot is done.
        case stopped
        /// The task was cancelled to interrupt a handler; the slot needs a fresh task.
        case replace
    }

    /// Runs the workers (and the timeout watcher) until the scheduler stops: after
    /// ``shutdown(deadline:)`` has drained or aborted the work. Call it once.
    ///
    /// Cancelling the task that runs it aborts at once: running handlers are cancelled and do
    /// not count as finished, queued work does not start, submitters get
    /// ``KeyedSchedulerError/shutDown``.
    @inlinable
    public func run() async {
        let shouldRun = withCore { core in
            precondition(!core.runStarted, "KeyedScheduler.run() called twice")
            core.runStarted = true
            return core.phase != .stopped
        }
        guard shouldRun else { return }
        await withTaskCancellationHandler {
            await withTaskGroup(of: Void.self) { group in
                if let timeout = configuration.timeout {
                    group.addTask { await self.watchTimeouts(timeout) }
                }
                await withDiscardingTaskGroup { slots in
                    for slot in 0..<configuration.concurrency {
                        slots.addTask { await self.superviseSlot(slot) }
                    }
                }
                group.cancelAll()
            }
        } onCancel: {
            withCore { $0.abort() }
        }
    }

    /// Keeps one worker task running in `slot`, replacing it whenever it has to be cancelled
    /// to interrupt a handler (Swift task cancellation cannot be undone, so a cancelled worker
    /// cannot go on to the next event).
    @inlinable
    func superviseSlot(_ slot: Int) async {
        while !Task.isCancelled {
            withCore { $0.slots[slot].signalled = false }
            let end = await withTaskGroup(of: WorkerEnd.self) { group in
                group.addTask { await self.work(slot: slot) }
                // Signalled when the worker ends, or to interrupt it (timeout, abort).
                await withCheckedContinuation { continuation in
                    withCore { $0.waitForSignal(slot: slot, continuation) }
                }
                group.cancelAll()
                return await group.next() ?? .stopped
            }
            if case .stopped = end { return }
        }
    }

    /// Runs events one after another: after each, the state machine hands over the next one
    /// (the same key's or another ready key's), so a busy worker never suspends between events.
    @inlinable
    func work(slot: Int) async -> WorkerEnd {
        defer { withCore { $0.signal(slot: slot) } }
        var next = await takeJob(slot: slot)
        while let job = next {
            var thrown: (any Error)?
            do {
                try await handler(job.key, job.seq, job.payload)
            } catch {
                thrown = error
            }
            let cancelled = Task.isCancelled
            let after = withCore { $0.complete(job, in: slot, error: thrown, taskCancelled: cancelled) }
            if let failure = after.failure { onFailure(job.key, job.seq, failure) }
            if after.mustEnd { return .replace }
            next = after.next
            if next == nil { next = await takeJob(slot: slot) }
        }
        return .stopped
    }

    /// The next job for an idle worker: waits until one is dispatched; `nil` when none will come.
    @inlinable
    func takeJob(slot: Int) async -> KeyedSchedulerStateMachine<Key, Payload>.Job? {
        await withCheckedContinuation { continuation in
            withCore { $0.takeJob(slot: slot, waiting: continuation) }
        }
    }

    /// Cancels handlers that run past `timeout`. Sleeps until the earliest deadline of a running
    /// event (or one timeout ahead), so it costs nothing per event.
    @usableFromInline
    func watchTimeouts(_ timeout: Duration) async {
        let clock = ContinuousClock()
        while !Task.isCancelled {
            let nextCheck = withCore { $0.expireTimedOut(now: clock.now, timeout: timeout) }
            do {
                try await Task.sleep(until: nextCheck, clock: clock)
            } catch {
                return
            }
        }
    }
}
