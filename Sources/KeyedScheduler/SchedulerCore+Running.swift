/// Running events, timeouts and shutdown: how the core hands jobs to workers and takes them
/// back.
extension SchedulerCore {
    /// Hands a started job to an idle worker, or leaves it for the next worker that asks.
    @inlinable
    mutating func dispatch(_ job: Job) {
        if let worker = idleWorkers.popFirst() {
            begin(job, in: worker.slot)
            wakeups.append(.worker(worker.continuation, job))
        } else {
            handoffs.append(job)
        }
    }

    @inlinable
    mutating func begin(_ job: Job, in slot: Int) {
        slots[slot].runningSeq = job.seq
        if timeout != nil { slots[slot].startedAt = clock.now }
    }

    /// A worker without a job asks for one: it gets a waiting hand-off, or `nil` (stop) when
    /// no more work can come its way, or it waits to be dispatched one.
    @inlinable
    mutating func takeJob(slot: Int, waiting continuation: CheckedContinuation<Job?, Never>) {
        if let job = handoffs.popFirst() {
            begin(job, in: slot)
            wakeups.append(.worker(continuation, job))
        } else if phase == .accepting {
            idleWorkers.append(IdleWorker(slot: slot, continuation: continuation))
        } else {
            // No submissions any more: waiting events belong to running keys, whose workers
            // take them on, and a hand-off from a replaced worker goes to its replacement.
            wakeups.append(.worker(continuation, nil))
        }
    }

    /// Records how `job` ended in `slot` and returns what the worker does next.
    /// - Parameters:
    ///   - error: what the handler threw, if anything.
    ///   - taskCancelled: whether the worker's task was cancelled when the handler returned.
    @inlinable
    mutating func complete(
        _ job: Job, in slot: Int, error: (any Error)?, taskCancelled: Bool
    ) -> AfterCompletion {
        let cancelRequested = slots[slot].cancelRequested
        let timedOut = slots[slot].timedOut
        slots[slot].clearEvent()
        // A cancellation the slot did not ask for comes from `run()` being cancelled.
        let cancelledFromOutside = taskCancelled && !cancelRequested
        let outcome: EventOutcome
        var after = AfterCompletion()
        if phase == .aborting || cancelledFromOutside {
            outcome = .abandoned
        } else if timedOut {
            outcome = .timedOut
            after.failure = .timedOut(after: timeout ?? .zero, error: error)
        } else if let error {
            outcome = .failed
            after.failure = .threw(error)
        } else {
            outcome = .succeeded
        }
        let completion = machine.finished(key: job.key, seq: job.seq, outcome: outcome)
        if let mark = completion.advancedLowWaterMark { lowWaterMarks.yield(mark) }
        var next = completion.start
        if phase == .accepting { admitParked(into: &next) }
        after.mustEnd = cancelRequested || cancelledFromOutside
        if let next {
            if after.mustEnd { dispatch(next) } else { begin(next, in: slot) }
        }
        after.next = after.mustEnd ? nil : next
        stopIfQuiescent()
        return after
    }

    // MARK: Timeouts and shutdown

    /// Interrupts every running event whose timeout passed; returns when to look again.
    @usableFromInline
    mutating func expireTimedOut(now: ContinuousClock.Instant, timeout: Duration) -> ContinuousClock.Instant {
        // Events starting after `now` have deadlines after `now + timeout`.
        var nextCheck = now + timeout
        for slot in slots.indices {
            guard slots[slot].runningSeq != nil, !slots[slot].cancelRequested,
                let startedAt = slots[slot].startedAt
            else { continue }
            let deadline = startedAt + timeout
            if deadline <= now {
                slots[slot].timedOut = true
                interrupt(slot: slot)
            } else if deadline < nextCheck {
                nextCheck = deadline
            }
        }
        return nextCheck
    }

    /// Asks the slot's supervisor to cancel its worker task.
    @inlinable
    mutating func interrupt(slot: Int) {
        slots[slot].cancelRequested = true
        signal(slot: slot)
    }

    /// Wakes the slot's supervisor (or latches the signal until it waits).
    @inlinable
    mutating func signal(slot: Int) {
        if let supervisor = slots[slot].supervisor {
            slots[slot].supervisor = nil
            wakeups.append(.signal(supervisor))
        } else {
            slots[slot].signalled = true
        }
    }

    @inlinable
    mutating func waitForSignal(slot: Int, _ continuation: CheckedContinuation<Void, Never>) {
        if slots[slot].signalled {
            slots[slot].signalled = false
            wakeups.append(.signal(continuation))
        } else {
            slots[slot].supervisor = continuation
        }
    }

    /// Stops taking submissions; queued and running work goes on.
    @inlinable
    mutating func beginDraining() {
        guard phase == .accepting else { return }
        phase = .draining
        rejectParked()
        idleWorkers.drain { wakeups.append(.worker($0.continuation, nil)) }
        stopIfQuiescent()
    }

    /// Cancels running handlers and starts nothing more: what has not finished stays
    /// unfinished, so the low-water mark stays below it.
    @inlinable
    mutating func abort() {
        guard phase == .accepting || phase == .draining else { return }
        phase = .aborting
        machine.abort()
        rejectParked()
        while let job = handoffs.popFirst() {
            _ = machine.finished(key: job.key, seq: job.seq, outcome: .abandoned)
        }
        idleWorkers.drain { wakeups.append(.worker($0.continuation, nil)) }
        for slot in slots.indices where slots[slot].runningSeq != nil && !slots[slot].cancelRequested {
            interrupt(slot: slot)
        }
        stopIfQuiescent()
    }

    @inlinable
    mutating func stopIfQuiescent() {
        guard phase == .draining || phase == .aborting, machine.isQuiescent else { return }
        phase = .stopped
        idleWorkers.drain { wakeups.append(.worker($0.continuation, nil)) }
        lowWaterMarks.finish()
        for waiter in stopWaiters { wakeups.append(.signal(waiter)) }
        stopWaiters = []
    }
}
