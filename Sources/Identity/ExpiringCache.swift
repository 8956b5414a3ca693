/// A bounded map whose entries expire: what the identity resolver remembers. Pure (the caller
/// passes the time), so expiry and eviction are tested without waiting.
///
/// Every entry lives for the same time, so the oldest insertion is also the first to expire: when
/// the cache is full it drops that one (first in, first out, amortised O(1)), which keeps it from
/// growing without bound under a stream of accounts seen once.
public struct ExpiringCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    public let capacity: Int
    public let timeToLive: Duration
    private var entries: [Key: (value: Value, expires: ContinuousClock.Instant, generation: UInt64)] = [:]
    /// Insertions in order; an element whose generation no longer matches its entry is stale.
    private var order: [(key: Key, generation: UInt64)] = []
    private var orderStart = 0
    private var nextGeneration: UInt64 = 0

    public init(capacity: Int, timeToLive: Duration) {
        precondition(capacity > 0, "a cache holds at least one entry")
        self.capacity = capacity
        self.timeToLive = timeToLive
    }

    public var count: Int { entries.count }

    /// The value for `key` if it has not expired at `now`; an expired entry is removed.
    public mutating func value(for key: Key, at now: ContinuousClock.Instant) -> Value? {
        guard let entry = entries[key] else { return nil }
        guard now < entry.expires else {
            entries[key] = nil
            return nil
        }
        return entry.value
    }

    public mutating func insert(_ value: Value, for key: Key, at now: ContinuousClock.Instant) {
        if entries[key] == nil {
            while entries.count >= capacity, orderStart < order.count {
                let oldest = order[orderStart]
                orderStart += 1
                if entries[oldest.key]?.generation == oldest.generation { entries[oldest.key] = nil }
            }
        }
        nextGeneration += 1
        entries[key] = (value, now + timeToLive, nextGeneration)
        order.append((key, nextGeneration))
        // Keep the queue within a few times the capacity: drop what was consumed or went stale.
        if order.count > 2 * capacity + 16 {
            order = order[orderStart...].filter { entries[$0.key]?.generation == $0.generation }
            orderStart = 0
        }
    }

    public mutating func remove(_ key: Key) {
        entries[key] = nil
    }
}
