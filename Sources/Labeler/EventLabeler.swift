import ATProto
import Identity
import LabelStore
import Logging
import Rules
import Synchronization

/// The pipeline's handler, shared by `labeler run` and `labeler replay`: runs the rules over one
/// event and queues the label changes they ask for with the writer before the event counts as
/// finished, which is what keeps the stored cursor behind every label not yet stored (see
/// `LabelWriter`).
public final class EventLabeler: Sendable {
    /// What the rules asked for so far. Negations are counted apart: rules with
    /// `on_no_match: negate` ask to negate on every delete in their scope, and only those of
    /// applied labels change anything.
    public struct Tally: Sendable, Equatable {
        public var events = 0
        public var labels = 0
        public var negations = 0
        public var dryRun = 0
        public var ruleErrors = 0
        /// Labels and dry-run hits per rule id.
        public var byRule: [String: Int] = [:]
        /// Failures (match limit, bad data) per rule id.
        public var errorsByRule: [String: Int] = [:]
        /// Dry-run hits per rule id: rules in `mode: log`, and rules with a `rollout` on the
        /// accounts it leaves out (what a canary would do if it covered everyone).
        public var dryRunByRule: [String: Int] = [:]
        /// Labels asked for per value.
        public var byValue: [String: Int] = [:]
        /// The time of the newest event handled, in microseconds, for the lag behind the relay.
        public var lastEventTime: Int64?
        /// Events handled per type (`commit`, `identity`, `account`, `sync`, …).
        public var byType: [String: Int] = [:]
    }

    public let evaluator: RuleEvaluator
    let writer: LabelWriter?
    /// Told of every `#identity` event, so that a changed handle or DID document (a rotated
    /// key) is resolved again rather than served from its cache.
    let identity: IdentityResolver?
    let logger: Logger
    /// What the rules asked for; locked only for events that produced effects.
    private let tally = Mutex(Tally())
    /// Counted on every event without a lock (workers run in parallel).
    private let typeCounts = EventTypeCounts()
    private let newestTime = Atomic<Int64>(.min)
    /// The oldest time an event gave itself among those sampled since `takeOldestEventTime()`
    /// last ran (`.max`: none): how far back the events being handled now reach.
    private let oldestRecentTime = Atomic<Int64>(.max)

    public init(evaluator: RuleEvaluator, writer: LabelWriter?, identity: IdentityResolver? = nil, logger: Logger) {
        self.evaluator = evaluator
        self.writer = writer
        self.identity = identity
        self.logger = logger
    }

    public var totals: Tally {
        var totals = tally.withLock { $0 }
        totals.byType = typeCounts.snapshot
        totals.events = totals.byType.values.reduce(0, +)
        let newest = newestTime.load(ordering: .relaxed)
        totals.lastEventTime = newest == .min ? nil : newest
        return totals
    }

    /// Seconds between now and the newest event handled (nil before the first): how far the
    /// labeler trails the stream.
    public var secondsBehind: Double? {
        let newest = newestTime.load(ordering: .relaxed)
        return newest == .min ? nil : Double(Datetime.now().unixMicros - newest) / 1e6
    }

    /// Handles one event (the pipeline's handler).
    public func handle(seq: Int64, event: RepoEvent) async throws {
        let handled = typeCounts.count(event)
        if let identity, case .identity(let change) = event {
            await identity.invalidate(change.did, handle: change.handle.flatMap { try? Handle($0) })
        }
        // An account gone inactive (or back) is stored with the cursor that passes its event, so
        // verification still knows after a restart.
        if let writer, case .account(let account) = event, let change = VerificationGate.statusChange(account) {
            try await writer.enqueue([], accountStatuses: [change])
        }
        // The newest event's time (for the lag behind the relay), read from every 64th event:
        // parsing a datetime for each would cost more than the rest of an unlabeled event.
        var time: Int64? = nil
        if handled % 64 == 0 {
            let own = Self.ownTime(event)
            let t = own ?? Datetime.now().unixMicros
            time = t
            newestTime.max(t, ordering: .relaxed)
            if let own { oldestRecentTime.min(own, ordering: .relaxed) }
        }
        let results = evaluator.evaluate(event, time: time ?? Self.eventTime(event))
        guard !results.isEmpty else { return }
        if let writer {
            var changes = results.flatMap(\.labelChanges)
            let eventTime = time ?? Self.eventTime(event)
            for i in changes.indices {
                changes[i].eventSeq = seq
                changes[i].eventTime = eventTime
            }
            let hits = evaluator.counts.persistsHits ? thresholdHits(of: results, seq: event.seq) : []
            if !changes.isEmpty || !hits.isEmpty { try await writer.enqueue(changes, thresholdHits: hits) }
        }
        tally.withLock { t in
            for effects in results {
                t.labels += effects.labels.count
                t.negations += effects.negations.count
                t.dryRun += effects.dryRun.count
                t.ruleErrors += effects.failures.count
                for effect in effects.labels + effects.dryRun { t.byRule[effect.ruleID, default: 0] += 1 }
                for effect in effects.labels { t.byValue[effect.value, default: 0] += 1 }
                for failure in effects.failures { t.errorsByRule[failure.ruleID, default: 0] += 1 }
                for effect in effects.dryRun { t.dryRunByRule[effect.ruleID, default: 0] += 1 }
            }
        }
        for effects in results {
            for effect in effects.dryRun {
                logger.debug(
                    effect.negate ? "would negate" : "would label",
                    metadata: [
                        "seq": "\(seq)", "rule": "\(effect.ruleID)", "val": "\(effect.value)",
                        "uri": "\(effect.subject)",
                        "evidence": "\(effect.evidence.map { "\($0)" } ?? "")",
                    ])
            }
            for failure in effects.failures {
                logger.warning("rule failed", metadata: ["seq": "\(seq)", "error": "\(failure)"])
            }
        }
    }

    /// The threshold hits of one event, numbered as the evaluator numbered them (in op order), so
    /// the stored rows are the ones the event counted with.
    func thresholdHits(of results: [Effects], seq: Int64?) -> [ThresholdHit] {
        var hits: [ThresholdHit] = []
        var ordinal = 0
        for effects in results {
            for bump in effects.counterBumps {
                hits.append(
                    ThresholdHit(
                        ruleID: bump.ruleID, did: bump.did, time: bump.time, window: bump.window,
                        event: evaluator.eventSource.flatMap { source in
                            seq.map { ThresholdEvent(source: source, seq: $0, ordinal: ordinal) }
                        }))
                ordinal += 1
            }
        }
        return hits
    }

    /// The event's own time in microseconds (so replays are deterministic), or now.
    public static func eventTime(_ event: RepoEvent) -> Int64 {
        ownTime(event) ?? Datetime.now().unixMicros
    }

    /// The time the event carries, in microseconds; nil when it carries none.
    static func ownTime(_ event: RepoEvent) -> Int64? {
        let time: Datetime? =
            switch event {
            case .commit(let c): c.time
            case .identity(let i): i.time
            case .account(let a): a.time
            default: nil
            }
        return time?.unixMicros
    }

    /// The oldest time carried by the events sampled (every 64th) since the last call, and
    /// starts over; nil when none was. What the pruning of threshold hits measures age from:
    /// while the labeler catches up on old events, they are old too.
    public func takeOldestEventTime() -> Int64? {
        let oldest = oldestRecentTime.exchange(.max, ordering: .relaxed)
        return oldest == .max ? nil : oldest
    }
}

/// Events per type, counted with atomics.
final class EventTypeCounts: Sendable {
    static let names = ["commit", "identity", "account", "sync", "info", "error", "unknown"]
    private let counts = (0..<7).map { _ in AtomicCounter() }

    /// Counts `event`; returns how many events were counted before it, all types together.
    func count(_ event: RepoEvent) -> Int {
        let index =
            switch event {
            case .commit: 0
            case .identity: 1
            case .account: 2
            case .sync: 3
            case .info: 4
            case .error: 5
            case .unknown: 6
            }
        counts[index].add()
        return total.add()
    }

    private let total = AtomicCounter()

    var snapshot: [String: Int] {
        var out: [String: Int] = [:]
        for (name, counter) in zip(Self.names, counts) where counter.value > 0 { out[name] = counter.value }
        return out
    }
}

/// An `Atomic<Int>` in a class, so arrays of them can be shared.
final class AtomicCounter: Sendable {
    private let atomic = Atomic<Int>(0)

    /// Adds one; returns the value before.
    @discardableResult
    func add() -> Int { atomic.wrappingAdd(1, ordering: .relaxed).oldValue }

    var value: Int { atomic.load(ordering: .relaxed) }
}
