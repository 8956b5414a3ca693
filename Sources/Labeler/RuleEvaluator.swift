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
    let eventSource: CursorName?
    private let pool = Locked<[ScratchBox]>([])

    public init(
        holder: RuleSetHolder, counts: any ThresholdStore = SharedThresholdCounts(), eventSource: CursorName? = nil
    ) {
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
            let position = eventSource.flatMap { source in
                event.seq.map { ThresholdEvent(source: source, seq: $0, ordinal: ordinal) }
            }
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

/// Where threshold counts live: in memory (replay, tests) or backed by the store (the service,
/// so counts survive restarts). Shared by all workers; events of one account run one at a time,
/// so an account's counts are consistent within its events.
public protocol ThresholdStore: Sendable {
    /// Hits at or after `since`; with `before`, not those of that event from its position on,
    /// nor of later events of the same stream: an event handled again after a restart sees
    /// exactly what it saw the first time, even though its own hits may already be stored.
    func count(ruleID: String, did: String, since: Int64, before: ThresholdEvent?) -> Int
    /// Records `bumps` in memory, the first at position `from` of its event and the rest after it.
    func record(_ bumps: [CounterBump], from: ThresholdEvent?)
    /// Whether the hits must also be stored, by the label writer with the event's labels.
    var persistsHits: Bool { get }
}

extension ThresholdStore {
    public var persistsHits: Bool { false }
}

/// Adapts a `ThresholdStore` to the engine's read-only view.
struct CountsView: ThresholdCounts {
    let store: any ThresholdStore
    let before: ThresholdEvent?
    func count(ruleID: String, did: String, since: Int64) -> Int {
        store.count(ruleID: ruleID, did: did, since: since, before: before)
    }
}

/// Counts kept in memory and backed by the store's `threshold_hit` table, which the label writer
/// fills with each event's hits in the event's transaction (so hits, labels and cursor are stored
/// together). An account's hits are read from the store the first time they are counted, and
/// merged with those recorded since; from then on memory is the authority, so an account's next
/// event sees its previous event's hits whether or not they are committed yet. A failed read
/// counts as zero (the threshold is then not reached) and is logged by the caller through
/// `onError`.
public final class StoredThresholdCounts: ThresholdStore {
    struct Entry {
        /// Whether the store's hits have been read into `hits`.
        var loaded = false
        var hits: [ThresholdHit] = []
    }

    struct State {
        var entries: [ThresholdKey: Entry] = [:]
        /// The newest hit's time, to tell which hits have left their window.
        var newest: Int64 = .min
    }

    let store: LabelStore
    let onError: @Sendable (LabelStore.Error) -> Void
    /// How many accounts' hits to keep before forgetting those whose hits have all expired.
    let capacity: Int
    private let state = Locked(State())

    public init(
        store: LabelStore, capacity: Int = 100_000, onError: @escaping @Sendable (LabelStore.Error) -> Void = { _ in }
    ) {
        self.store = store
        self.capacity = capacity
        self.onError = onError
    }

    public var persistsHits: Bool { true }

    public func count(ruleID: String, did: String, since: Int64, before: ThresholdEvent?) -> Int {
        let key = ThresholdKey(ruleID: ruleID, did: did)
        if state.withLock({ $0.entries[key]?.loaded != true }) {
            // Read outside the lock; events of one account run one at a time, so no other
            // worker loads this key meanwhile (another account's worker may record, which merges).
            let stored: [ThresholdHit]
            // The store keeps no window per hit; 0 lets the eviction in `record` drop loaded hits
            // first, which is safe: they are stored, and read again if the account comes back.
            do { stored = try store.thresholdHits(ruleID: ruleID, did: did, since: .min, window: 0) } catch {
                onError(error)
                return 0
            }
            state.withLock { state in
                var entry = state.entries[key] ?? Entry()
                if !entry.loaded {
                    let known = Set(entry.hits.compactMap(\.event))
                    entry.hits = stored.filter { $0.event.map { !known.contains($0) } ?? true } + entry.hits
                    entry.loaded = true
                    state.entries[key] = entry
                }
            }
        }
        return state.withLock { state in
            state.entries[key]?.hits.count(where: { hit in
                guard hit.time >= since else { return false }
                guard let before, let event = hit.event, event.source == before.source else { return true }
                return event.seq < before.seq || (event.seq == before.seq && event.ordinal < before.ordinal)
            }) ?? 0
        }
    }

    public func record(_ bumps: [CounterBump], from: ThresholdEvent?) {
        state.withLock { state in
            for (i, bump) in bumps.enumerated() {
                let key = ThresholdKey(ruleID: bump.ruleID, did: bump.did)
                let event = from.map { ThresholdEvent(source: $0.source, seq: $0.seq, ordinal: $0.ordinal + i) }
                var entry = state.entries[key] ?? Entry()
                entry.hits.removeAll { $0.time < bump.time - bump.window }
                // An event handled again after a restart records the hits it already has.
                if let event, entry.hits.contains(where: { $0.event == event }) { continue }
                entry.hits.append(
                    ThresholdHit(ruleID: bump.ruleID, did: bump.did, time: bump.time, window: bump.window, event: event)
                )
                state.entries[key] = entry
                state.newest = max(state.newest, bump.time)
            }
            if state.entries.count > capacity {
                // Accounts whose hits have all left their window count zero from memory and
                // from the store alike: forget them.
                let newest = state.newest
                state.entries = state.entries.filter { _, entry in
                    entry.hits.contains { $0.time >= newest - $0.window }
                }
            }
        }
    }

    /// Accounts whose hits are held in memory now.
    var accountsHeld: Int { state.withLock { $0.entries.count } }
}

/// Threshold counts in memory.
public final class SharedThresholdCounts: ThresholdStore {
    private let times = Locked<[ThresholdKey: [Int64]]>([:])

    public init() {}

    /// In memory there is no restart to survive, so the event's position plays no part.
    public func count(ruleID: String, did: String, since: Int64, before: ThresholdEvent?) -> Int {
        times.withLock { $0[ThresholdKey(ruleID: ruleID, did: did)]?.count(where: { $0 >= since }) ?? 0 }
    }

    /// Records bumps, dropping times that have left their window.
    public func record(_ bumps: [CounterBump], from: ThresholdEvent?) {
        times.withLock { times in
            for bump in bumps {
                let key = ThresholdKey(ruleID: bump.ruleID, did: bump.did)
                var list = times[key, default: []]
                list.removeAll { $0 < bump.time - bump.window }
                list.append(bump.time)
                times[key] = list
            }
        }
    }
}
