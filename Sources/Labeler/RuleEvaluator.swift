import ATProto
import LabelStore
import Rules

/// Runs the current rule set over decoded events, from many workers at once.
///
/// The compiled rule set is shared; the per-evaluation scratch (regex match data, the text
/// normaliser) is not thread-safe, so each evaluation borrows one from a pool. The rule set is
/// read once per event from the holder, so a reload never splits an event across two sets.
public final class RuleEvaluator: Sendable {
    public let holder: RuleSetHolder
    public let counts: any ThresholdStore
    /// The stream the events' seqs belong to, so threshold hits are tied to their event.
    let eventSource: String?
    private let pool = Locked<[ScratchBox]>([])

    public init(holder: RuleSetHolder, counts: any ThresholdStore = SharedThresholdCounts(), eventSource: String? = nil) {
        self.holder = holder
        self.counts = counts
        self.eventSource = eventSource
    }

    /// The effects of every record operation (or the handle) in `event`, in op order. Counter bumps
    /// are recorded before returning, so the account's next event sees them.
    ///
    /// `time` (the event's time, for thresholds and expiries) is computed only when some rule
    /// may look at the event.
    public func evaluate(_ event: RepoEvent, time: @autoclosure () -> Int64) -> [Effects] {
        let set = holder.current
        // Nothing to evaluate: skip building a context (CIDs as strings) for every op.
        guard !set.rules.isEmpty else { return [] }
        var contexts: [RecordContext] = []
        switch event {
        case .commit(let commit):
            let time = time()
            contexts = commit.ops.map { RecordContext(did: commit.repo, op: $0, time: time) }
        case .identity(let identity):
            if let handle = identity.handle, set.readsHandles {
                contexts = [.identity(did: identity.did, handle: handle, time: time())]
            }
        default:
            break
        }
        guard !contexts.isEmpty else { return [] }
        let box = pool.withLock { $0.popLast() } ?? ScratchBox()
        defer { pool.withLock { $0.append(box) } }
        // Each hit's position in the event: a context counts the hits of earlier contexts of the
        // same event, never its own or later ones, also when the event is handled again.
        var ordinal = 0
        return contexts.map { context in
            let position = eventSource.flatMap { source in event.seq.map { ThresholdEvent(source: source, seq: $0, ordinal: ordinal) } }
            let effects = set.evaluate(context, counts: CountsView(store: counts, before: position), using: box.scratch)
            if !effects.counterBumps.isEmpty {
                counts.record(effects.counterBumps, from: position)
                ordinal += effects.counterBumps.count
            }
            return effects
        }
    }
}

/// A scratch owned by one evaluation at a time (it moves through the pool under its lock).
final class ScratchBox: @unchecked Sendable {
    let scratch = RuleScratch()
}

/// Where threshold counts live: in memory (replay, tests) or in the store (the service, so counts
/// survive restarts). Shared by all workers; events of one account run one at a time, so an
/// account's counts are consistent within its events.
public protocol ThresholdStore: Sendable {
    /// Hits at or after `since`; with `before`, not those of that event from its position on,
    /// nor of later events (see `LabelStore.thresholdCount`).
    func count(ruleID: String, did: String, since: Int64, before: ThresholdEvent?) -> Int
    /// Records `bumps`, the first at position `from` of its event and the rest after it.
    func record(_ bumps: [CounterBump], from: ThresholdEvent?)
}

/// Adapts a `ThresholdStore` to the engine's read-only view.
struct CountsView: ThresholdCounts {
    let store: any ThresholdStore
    let before: ThresholdEvent?
    func count(ruleID: String, did: String, since: Int64) -> Int {
        store.count(ruleID: ruleID, did: did, since: since, before: before)
    }
}

/// Counts in the label store's `threshold_hit` table. A failed read counts as zero (the
/// threshold is then not reached) and is logged by the caller through `onError`.
public final class StoredThresholdCounts: ThresholdStore {
    let store: LabelStore
    let onError: @Sendable (LabelStore.Error) -> Void

    public init(store: LabelStore, onError: @escaping @Sendable (LabelStore.Error) -> Void = { _ in }) {
        self.store = store
        self.onError = onError
    }

    public func count(ruleID: String, did: String, since: Int64, before: ThresholdEvent?) -> Int {
        do { return try store.thresholdCount(ruleID: ruleID, did: did, since: since, before: before) } catch {
            onError(error)
            return 0
        }
    }

    public func record(_ bumps: [CounterBump], from: ThresholdEvent?) {
        let hits = bumps.enumerated().map { i, bump in
            (bump.ruleID, bump.did, bump.time, bump.window, from.map { ThresholdEvent(source: $0.source, seq: $0.seq, ordinal: $0.ordinal + i) })
        }
        do { try store.recordThresholdHits(hits) } catch { onError(error) }
    }
}

/// Threshold counts in memory.
public final class SharedThresholdCounts: ThresholdStore {
    private let times = Locked<[String: [Int64]]>([:])

    public init() {}

    /// In memory there is no restart to survive, so the event's position plays no part.
    public func count(ruleID: String, did: String, since: Int64, before: ThresholdEvent?) -> Int {
        times.withLock { $0[ruleID + " " + did]?.count(where: { $0 >= since }) ?? 0 }
    }

    /// Records bumps, dropping times that have left their window.
    public func record(_ bumps: [CounterBump], from: ThresholdEvent?) {
        times.withLock { times in
            for bump in bumps {
                let key = bump.ruleID + " " + bump.did
                var list = times[key, default: []]
                list.removeAll { $0 < bump.time - bump.window }
                list.append(bump.time)
                times[key] = list
            }
        }
    }
}
