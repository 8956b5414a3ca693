import ATProto
import Firehose
import KeyedScheduler
import LabelStore
import Logging

/// Source → scheduler → handler, with the cursor kept durable.
///
/// Events of one account run in stream order, one at a time; accounts run concurrently up to the
/// configured concurrency. The scheduler's low-water mark (every event at or below it finished)
/// is the cursor: it is written to the store at most once per `cursorInterval` and once more at
/// the end, and the source resumes after it on restart, so nothing is skipped; events above it
/// may be handled again after a crash.
public final class IngestPipeline: Sendable {
    /// Handles one event. Runs concurrently for different accounts.
    public typealias Handler = @Sendable (_ seq: Int64, _ event: RepoEvent) async throws -> Void

    public struct Configuration: Sendable {
        public var scheduler: KeyedSchedulerConfiguration
        public var cursorInterval: Duration
        /// How long to let queued work finish at shutdown.
        public var drainTimeout: Duration
        /// Whether the pipeline writes the cursor itself. Off when a label writer stores it with
        /// each transaction (read from `lowWaterMark`); the stored cursor is still read at start.
        public var storesCursor: Bool

        public init(
            scheduler: KeyedSchedulerConfiguration = .init(), cursorInterval: Duration = .seconds(1),
            drainTimeout: Duration = .seconds(30), storesCursor: Bool = true
        ) {
            self.scheduler = scheduler
            self.cursorInterval = cursorInterval
            self.drainTimeout = drainTimeout
            self.storesCursor = storesCursor
        }
    }

    public struct Summary: Sendable, Equatable {
        public var events = 0
        public var commits = 0
        public var records = 0
        public var rejected = 0
        public var failed = 0
        public var resets = 0
        public var finalCursor: Int64?
    }

    let source: any EventSource
    let store: LabelStore?
    let configuration: Configuration
    let handler: Handler
    let logger: Logger
    private let summary = Locked(Summary())
    private let mark = Locked<Int64?>(nil)
    /// Set by `stop()`; the source's task, so stopping reaches it and nothing else.
    private let stopping = Locked(false)
    private let sourceTask = Locked<Task<Void, any Error>?>(nil)
    /// The scheduler of the running epoch, for its metrics.
    private let scheduler = Locked<KeyedScheduler<String, RepoEvent>?>(nil)

    /// The cursor now: every event at or below it has been handled. The label writer stores it
    /// with each transaction.
    public var lowWaterMark: Int64? { mark.value }

    /// The scheduler's counters now (queue depth, in flight, largest backlog, …); zero before
    /// the first event.
    public var schedulerMetrics: KeyedSchedulerMetrics { scheduler.value?.metrics ?? KeyedSchedulerMetrics() }

    /// Counts so far.
    public var counts: Summary { summary.value }

    public init(
        source: any EventSource, store: LabelStore?, configuration: Configuration = .init(), logger: Logger,
        handler: @escaping Handler
    ) {
        self.source = source
        self.store = store
        self.configuration = configuration
        self.logger = logger
        self.handler = handler
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
    /// sources), then drains what was accepted, stores the final cursor and returns the counts.
    public func run() async throws -> Summary {
        let cursorName = source.cursorName
        var resumeAfter = try store?.cursor(for: cursorName)
        // A reset (the relay's sequence restarted) needs a fresh scheduler, since seqs go back.
        while true {
            let outcome = try await runEpoch(startingAfter: resumeAfter, cursorName: cursorName)
            guard outcome == .reset, !stopping.value else { break }
            summary.withLock { $0.resets += 1 }
            try store?.setCursor(nil, for: cursorName, at: Datetime.now().rawValue)
            try store?.forgetEvents(of: cursorName)
            resumeAfter = nil
        }
        return summary.withLock { $0 }
    }

    enum EpochEnd { case finished, reset }

    private func runEpoch(startingAfter: Int64?, cursorName: String) async throws -> EpochEnd {
        let logger = self.logger
        let handler = self.handler
        let summary = self.summary
        let scheduler = KeyedScheduler<String, RepoEvent>(
            configuration: configuration.scheduler, startingAfter: startingAfter,
            onFailure: { key, seq, failure in
                summary.withLock { $0.failed += 1 }
                logger.error("event failed", metadata: ["did": "\(key)", "seq": "\(seq)", "error": "\(failure)"])
            },
            handler: { _, seq, event in try await handler(seq, event) })
        self.scheduler.withLock { $0 = scheduler }
        let resetSeen = Locked(false)
        let durable = mark
        durable.withLock { $0 = startingAfter }

        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await scheduler.run() }
            group.addTask { [configuration] in
                let store = configuration.storesCursor ? self.store : nil
                // Persist the low-water mark as it advances, at most once per interval.
                let clock = ContinuousClock()
                var lastWrite = clock.now - configuration.cursorInterval
                var pending: Int64? = nil
                for await mark in scheduler.lowWaterMarks {
                    pending = mark
                    durable.withLock { $0 = mark }
                    if clock.now - lastWrite >= configuration.cursorInterval, let store {
                        try store.setCursor(mark, for: cursorName, at: Datetime.now().rawValue)
                        lastWrite = clock.now
                        pending = nil
                    }
                }
                if let pending, let store { try store.setCursor(pending, for: cursorName, at: Datetime.now().rawValue) }
            }

            var sourceError: (any Error)? = nil
            // The source runs in a task of its own so that `stop()` can end it without cancelling
            // the handlers, which still have to finish and write their labels.
            let sourceTask = Task {
                try await self.source.run(
                    resumeAfter: { durable.withLock { $0 } },
                    deliver: { delivered in
                        switch delivered {
                        case .event(let seq, let event, _):
                            summary.withLock {
                                $0.events += 1
                                if case .commit(let c) = event {
                                    $0.commits += 1
                                    // Record-bearing ops, whether or not the record was decoded (the
                                    // decoder skips collections no rule reads).
                                    $0.records += c.ops.count(where: { $0.action != .delete })
                                }
                            }
                            try await scheduler.submit(key: event.did ?? "", seq: seq, payload: event)
                        case .rejected(let seq, _, _):
                            summary.withLock { $0.rejected += 1 }
                            // The seq is consumed so the cursor can pass it; nothing runs for it.
                            try await scheduler.submit(key: "", seq: seq, payload: .unknown(type: "rejected"))
                        case .reset:
                            resetSeen.withLock { $0 = true }
                            throw ResetRequested()
                        }
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

struct ResetRequested: Error {}
