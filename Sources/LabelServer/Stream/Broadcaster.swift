import LabelStore
import Logging
import Synchronization

/// Wakes live `subscribeLabels` subscribers after each commit of the label writer.
///
/// It consumes the writer's single commit stream (the highest seq after each commit), reads the
/// new rows once into `RecentFrames`, and wakes every subscriber; subscribers then take the rows
/// after their own position (from those frames, or from the store when they are further behind).
/// It also enforces the per-subscriber lag bound and the subscriber cap.
final class Broadcaster: Sendable {
    struct Limits: Sendable {
        var maxSubscribers: Int
        /// How many seqs a live subscriber may fall behind the head before it is dropped.
        var maxLag: Int64
        /// How long a subscriber that is behind may go without progress (during its backfill too).
        var stallTimeout: Duration
        /// Frames kept for live subscribers.
        var recentFrames: Int
        /// Rows read from the store at once.
        var batchSize: Int
        /// Most socket writes per second to live subscribers, in all (0: no limit). A round of
        /// wake-ups costs about one write per subscriber, so rounds are spaced by
        /// `subscribers / liveWritesPerSecond` seconds.
        var liveWritesPerSecond: Int
    }

    private struct State {
        var subscribers: [Int: Subscription] = [:]
        var nextID = 0
        /// Highest seq committed, as last announced by the writer (or read at start).
        var head: Int64
        var stopped = false
    }

    let store: LabelStore
    let signer: LabelSigner
    let limits: Limits
    let counters = StreamCounters()
    let logger: Logger
    private let state: Mutex<State>
    private let recent: Mutex<RecentFrames>

    init(store: LabelStore, signer: LabelSigner, limits: Limits, logger: Logger) throws(LabelStore.Error) {
        self.store = store
        self.signer = signer
        self.limits = limits
        self.logger = logger
        let head = try store.lastLabelSeq()
        state = Mutex(State(head: head))
        recent = Mutex(RecentFrames(capacity: limits.recentFrames, head: head))
    }

    /// Registers a subscriber for wake-ups, or returns nil when the cap is reached or the server
    /// is stopping. Register before reading the head, so no commit can fall between the two.
    func subscribe() -> Subscription? {
        let subscription = state.withLock { s -> Subscription? in
            guard !s.stopped, s.subscribers.count < limits.maxSubscribers else { return nil }
            s.nextID += 1
            let subscription = Subscription(id: s.nextID)
            s.subscribers[s.nextID] = subscription
            return subscription
        }
        if subscription != nil { counters.connections.add(1, ordering: .relaxed) }
        return subscription
    }

    func unsubscribe(_ subscription: Subscription) {
        _ = state.withLock { $0.subscribers.removeValue(forKey: subscription.id) }
    }

    var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// Subscribers past their backfill, waiting for new labels.
    var liveSubscriberCount: Int { state.withLock { Array($0.subscribers.values) }.count(where: \.isLive) }

    /// Whether another subscriber would be accepted now (checked before the WebSocket upgrade;
    /// `subscribe` decides for good after it).
    var hasRoom: Bool { state.withLock { !$0.stopped && $0.subscribers.count < limits.maxSubscribers } }

    /// Up to `limit` frames with a seq above `after`, in seq order: from the recent frames when they
    /// cover `after`, otherwise from the store.
    func frames(after: Int64, limit: Int) throws(LabelStore.Error) -> [LabelFrame] {
        if let cached = recent.withLock({ $0.frames(after: after, limit: limit) }) { return cached }
        return try store.labels(after: after, limit: limit).map { LabelFrame($0, signer: signer) }
    }

    /// This round's frames as one buffer, when a subscriber at `after` can take it whole.
    func segment(after: Int64) -> RecentFrames.Segment? {
        recent.withLock { $0.segment(after: after) }
    }

    /// Consumes commit notifications until the sequence ends or the task is cancelled, checking
    /// for stalled subscribers every second meanwhile.
    func run(commits: any AsyncSequence<Int64, Never> & Sendable) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    self.dropSlowSubscribers()
                }
            }
            for await seq in commits {
                committed(seq)
                // Commits that land meanwhile collapse into the stream's one buffered element, so
                // the next round serves them all: one write per subscriber per round instead of
                // one per commit. The first commit after a quiet spell goes out at once.
                if let pause = roundInterval() { try? await Task.sleep(for: pause) }
            }
            group.cancelAll()
        }
    }

    /// How long to wait after a round of wake-ups, to keep to `liveWritesPerSecond` (at most a
    /// second).
    func roundInterval() -> Duration? {
        let subscribers = subscriberCount
        guard limits.liveWritesPerSecond > 0, subscribers > 1 else { return nil }
        return .microseconds(min(1_000_000, subscribers * 1_000_000 / limits.liveWritesPerSecond))
    }

    /// Ends every subscription and refuses new ones (graceful shutdown).
    func stop() {
        let all = state.withLock { s -> [Subscription] in
            s.stopped = true
            return Array(s.subscribers.values)
        }
        for subscription in all { subscription.end(.shutdown) }
    }

    /// The writer committed rows up to `seq`: read them into the recent frames, then wake everyone.
    func committed(_ seq: Int64) {
        do {
            try refreshRecentFrames(through: seq)
        } catch {
            // Subscribers still get woken and read the store themselves; the next commit retries.
            logger.error("reading committed labels failed", metadata: ["error": "\(error)"])
        }
        let subscribers = state.withLock { s -> [Subscription] in
            s.head = max(s.head, seq)
            return Array(s.subscribers.values)
        }
        dropSlowSubscribers(subscribers, wakingTheRest: true)
    }

    private func refreshRecentFrames(through seq: Int64) throws(LabelStore.Error) {
        // Only this task appends, so reading outside the lock cannot interleave with another append.
        let previous = recent.withLock { $0.head }
        var head = previous
        while true {
            let rows = try store.labels(after: head, limit: limits.batchSize)
            let frames = rows.map { LabelFrame($0, signer: signer) }
            recent.withLock { $0.append(frames) }
            if let last = rows.last { head = last.seq }
            if rows.count < limits.batchSize { break }
        }
        // Rows up to `seq` that are not in the store were superseded by later ones (read above).
        recent.withLock {
            $0.advance(to: seq)
            $0.makeSegment(after: previous)
        }
    }

    private func dropSlowSubscribers() {
        dropSlowSubscribers(state.withLock { Array($0.subscribers.values) }, wakingTheRest: false)
    }

    private func dropSlowSubscribers(_ subscribers: [Subscription], wakingTheRest: Bool) {
        let head = state.withLock { $0.head }
        let now = ContinuousClock.now
        for subscription in subscribers {
            if subscription.isTooSlow(head: head, maxLag: limits.maxLag, stallTimeout: limits.stallTimeout, now: now) {
                subscription.end(.tooSlow)
                counters.slowConsumerDrops.add(1, ordering: .relaxed)
            } else if wakingTheRest {
                subscription.wake()
            }
        }
    }
}

/// What the stream counts, read by the metrics registry at scrape time.
final class StreamCounters: Sendable {
    let framesSent = Atomic<Int>(0)
    let slowConsumerDrops = Atomic<Int>(0)
    let connections = Atomic<Int>(0)
}
