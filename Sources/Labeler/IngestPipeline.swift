import ATProto
import Firehose
import KeyedScheduler
import LabelStore
import Logging
import Synchronization

/// Source → scheduler → handler, and the low-water mark that is the cursor.
///
/// Events of one account run in stream order, one at a time; accounts run concurrently up to the
/// configured concurrency. The scheduler's low-water mark (every event at or below it finished)
/// is the cursor: each time it moves, the scheduler publishes it (`KeyedScheduler.lowWaterMarks`)
/// and `run` hands it to the label writer (`cursorAdvanced`), which stores it with its
/// transactions; the source resumes after the stored one on restart, so nothing is skipped;
/// events above it may be handled again after a crash. The pipeline itself writes nothing.
///
/// The source hands over events in their envelopes (seq and account read, the rest not decoded),
/// in batches (`EventSource.runSealed`); each is decoded by the worker that runs it, just before
/// the handler, so decoding uses every core. An event that does not decode is counted (rejected
/// or undecodable) and logged, and its seq consumed; the handler does not see it. With a
/// `verification` gate (`source.verify`), a decoded event the gate rejects is treated the same
/// way.
public final class IngestPipeline: Sendable {
    /// Handles one event. Runs concurrently for different accounts.
    public typealias Handler = @Sendable (_ seq: Int64, _ event: RepoEvent) async throws -> Void

    public struct Configuration: Sendable {
        public var scheduler: KeyedSchedulerConfiguration
        /// How long to let queued work finish at shutdown.
        public var drainTimeout: Duration
        /// Checks each decoded event before the handler (`source.verify`); nil: nothing is
        /// checked. It runs on the account's worker, so a slow DID lookup holds up only that
        /// account's events.
        public var verification: VerificationGate?

        public init(
            scheduler: KeyedSchedulerConfiguration = .init(), drainTimeout: Duration = .seconds(30),
            verification: VerificationGate? = nil
        ) {
            self.scheduler = scheduler
            self.drainTimeout = drainTimeout
            self.verification = verification
        }
    }

    public struct Summary: Sendable, Equatable {
        /// Events decoded and handed to the handler (including those that failed there).
        public var events = 0
        public var commits = 0
        public var records = 0
        /// Events rejected for their content (a block that does not match its CID, a commit
        /// object that disagrees, an undecodable record), by the source or when decoded, and
        /// commits that did not verify with `source.verify: enforce`.
        public var rejected = 0
        /// Events whose message turned out malformed when decoded (their envelope was readable):
        /// skipped, as a capture source skips such messages.
        public var undecodable = 0
        public var failed = 0
        public var resets = 0
        public var finalCursor: Int64?
    }

    /// The scheduler an event goes through: keyed by DID, carrying the sealed event (`nil` for
    /// one the source rejected, whose seq must still be consumed).
    typealias Scheduler = KeyedScheduler<String, RepoEventEnvelope?>

    /// The running epoch's scheduler, and the cursor when none runs.
    struct Progress: Sendable {
        var scheduler: Scheduler?
        var mark: Int64?
    }

    let source: any EventSource
    /// Where the stored cursor is read from at the start (nil: start at the source's head).
    let store: LabelStore?
    let configuration: Configuration
    let logger: Logger
    private let summary = Locked(Summary())
    /// Counted by the workers for every event, without a lock.
    private let decoded = DecodedCounts()
    private let progress = Locked(Progress())
    /// Set by `stop()`; the source's task, so stopping reaches it and nothing else.
    private let stopping = Locked(false)
    private let sourceTask = Locked<Task<Void, any Error>?>(nil)

    /// The cursor now: every event at or below it has been handled; nil while there is none
    /// (before the first event, and while the source restarts its sequence). For health and
    /// metrics; the writer is handed each mark as it moves (`run`'s `cursorAdvanced`).
    public var lowWaterMark: Int64? {
        let (scheduler, mark) = progress.withLock { ($0.scheduler, $0.mark) }
        return scheduler.map { $0.lowWaterMark } ?? mark
    }

    /// The scheduler's counters now (queue depth, in flight, largest backlog, …); zero before
    /// the first event.
    public var schedulerMetrics: KeyedSchedulerMetrics {
        progress.withLock { $0.scheduler }?.metrics ?? KeyedSchedulerMetrics()
    }

    /// Counts so far.
    public var counts: Summary {
        var counts = summary.value
        decoded.add(to: &counts)
        return counts
    }

    public init(source: any EventSource, store: LabelStore?, configuration: Configuration = .init(), logger: Logger) {
        self.source = source
        self.store = store
        self.configuration = configuration
        self.logger = logger
    }

    /// Stops reading the source; `run()` then drains what was accepted (handlers keep running,
    /// labels keep being written), stores the final cursor and returns. This is the graceful
    /// shutdown; cancelling `run()`'s task also stops it, but cancels the handlers' work too.
    public func stop() {
        let task = stopping.withLock { s -> Task<Void, any Error>? in
            s = true
            return sourceTask.value
        }
        task?.cancel()
    }

    /// Runs until the source ends (captures), `stop()` is called or the task is cancelled (live
    /// sources), then drains what was accepted and returns the counts.
    ///
    /// - Parameters:
    ///   - handler: runs each event (the rules, with `EventLabeler`); concurrently for different
    ///     accounts.
    ///   - cursorAdvanced: given each low-water mark as it moves forward, in order; the last of
    ///     each sequence before `restartSource` is called, and before `run` returns
    ///     (`LabelWriter.cursorAdvanced`).
    ///   - restartSource: called when the source's sequence restarted (a relay whose seqs went
    ///     back), after the old sequence's events finished and before the new ones start: the
    ///     label writer drops the stored cursor and forgets the old seqs (`LabelWriter.restartSource`).
    public func run(
        handler: @escaping Handler, cursorAdvanced: (@Sendable (Int64) -> Void)? = nil,
        restartSource: (@Sendable () async throws -> Void)? = nil
    ) async throws -> Summary {
        let cursorName = source.cursorName
        var resumeAfter = try store?.cursor(for: cursorName)
        // A reset (the relay's sequence restarted) needs a fresh scheduler, since seqs go back.
        while true {
            let outcome = try await runEpoch(
                startingAfter: resumeAfter, handler: handler, cursorAdvanced: cursorAdvanced)
            guard outcome == .reset, !stopping.value else { break }
            summary.withLock { $0.resets += 1 }
            // The old sequence's cursor means nothing in the new one: report none from now on.
            progress.withLock { $0 = Progress(scheduler: nil, mark: nil) }
            try await restartSource?()
            resumeAfter = nil
        }
        return summary.withLock { summary in
            decoded.add(to: &summary)
            return summary
        }
    }

    enum EpochEnd { case finished, reset }

    private func runEpoch(
        startingAfter: Int64?, handler: @escaping Handler, cursorAdvanced: (@Sendable (Int64) -> Void)?
    ) async throws -> EpochEnd {
        let logger = self.logger
        let summary = self.summary
        let decoded = self.decoded
        let verification = configuration.verification
        let scheduler = Scheduler(
            configuration: configuration.scheduler, startingAfter: startingAfter,
            onFailure: { key, seq, failure in
                summary.withLock { $0.failed += 1 }
                logger.error("event failed", metadata: ["did": "\(key)", "seq": "\(seq)", "error": "\(failure)"])
            },
            handler: { _, seq, envelope in
                // Rejected by the source: the seq is consumed so the cursor can pass it; nothing runs.
                guard let envelope else { return }
                let event: RepoEvent
                do throws(FrameError) {
                    event = try envelope.open()
                } catch {
                    summary.withLock {
                        if error.rejectsOnlyEvent { $0.rejected += 1 } else { $0.undecodable += 1 }
                    }
                    logger.warning(
                        error.rejectsOnlyEvent ? "event rejected" : "undecodable message skipped",
                        metadata: ["seq": "\(seq)", "reason": "\(error)"])
                    return
                }
                // The gate logs what it rejects.
                if let verification, await verification.check(seq: seq, event) != nil {
                    summary.withLock { $0.rejected += 1 }
                    return
                }
                decoded.count(event)
                try await handler(seq, event)
            })
        let resetSeen = Locked(false)
        let progress = self.progress
        progress.withLock { $0 = Progress(scheduler: scheduler, mark: startingAfter) }

        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await scheduler.run() }
            // The marks end with the scheduler, after its last one: waiting for the group below
            // hands every mark of this sequence over before a restart or the return.
            group.addTask {
                for await mark in scheduler.lowWaterMarks { cursorAdvanced?(mark) }
            }

            var sourceError: (any Error)? = nil
            // The source runs in a task of its own so that `stop()` can end it without cancelling
            // the handlers, which still have to finish and write their labels.
            let sourceTask = Task {
                try await self.source.runSealed(
                    resumeAfter: { scheduler.lowWaterMark },
                    deliver: { batch in
                        var submissions: [Scheduler.Submission] = []
                        submissions.reserveCapacity(batch.count)
                        for delivered in batch {
                            switch delivered {
                            case .event(let envelope):
                                submissions.append(.init(key: envelope.did ?? "", seq: envelope.seq, payload: envelope))
                            case .rejected(let seq, _, _):
                                summary.withLock { $0.rejected += 1 }
                                submissions.append(.init(key: "", seq: seq, payload: nil))
                            case .reset:
                                try await scheduler.submit(submissions)
                                resetSeen.withLock { $0 = true }
                                throw ResetRequested()
                            }
                        }
                        try await scheduler.submit(submissions)
                    })
            }
            self.sourceTask.withLock { $0 = sourceTask }
            if stopping.value { sourceTask.cancel() }
            do {
                try await withTaskCancellationHandler {
                    try await sourceTask.value
                } onCancel: {
                    sourceTask.cancel()
                }
            } catch is ResetRequested {
            } catch {
                sourceError = error
            }
            let final = await scheduler.shutdown(gracePeriod: configuration.drainTimeout)
            try await group.waitForAll()
            progress.withLock { $0 = Progress(scheduler: nil, mark: final) }
            summary.withLock { $0.finalCursor = final }
            // Whatever a source throws while being stopped is the stop, not a failure.
            // So is whatever it throws once `run()` itself was cancelled (its scheduler refusing
            // events, say).
            if let sourceError, !(sourceError is CancellationError), !stopping.value, !Task.isCancelled {
                throw sourceError
            }
            return resetSeen.withLock { $0 } ? .reset : .finished
        }
    }
}

/// Events, commits and records decoded, counted by every worker without taking a lock.
final class DecodedCounts: Sendable {
    private let events = Atomic<Int>(0)
    private let commits = Atomic<Int>(0)
    private let records = Atomic<Int>(0)

    /// Counts one event, and a commit's record-bearing ops, whether or not their records were
    /// decoded (the decoder skips collections no rule reads).
    func count(_ event: RepoEvent) {
        events.wrappingAdd(1, ordering: .relaxed)
        if case .commit(let c) = event {
            commits.wrappingAdd(1, ordering: .relaxed)
            records.wrappingAdd(c.ops.count(where: { $0.action != .delete }), ordering: .relaxed)
        }
    }

    func add(to summary: inout IngestPipeline.Summary) {
        summary.events += events.load(ordering: .relaxed)
        summary.commits += commits.load(ordering: .relaxed)
        summary.records += records.load(ordering: .relaxed)
    }
}

struct ResetRequested: Error {}
