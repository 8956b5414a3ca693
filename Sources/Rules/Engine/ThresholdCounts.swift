/// Read-only access to how often threshold rules matched each account before the current event.
/// The caller owns the counts (in its store, so they survive restarts) and records the
/// ``CounterBump``s the engine returns.
public protocol ThresholdCounts {
    /// Matches of rule `ruleID` by `did` at or after `since` (microseconds since the epoch),
    /// excluding the event being evaluated.
    func count(ruleID: String, did: String, since: Int64) -> Int
}

/// No earlier matches anywhere: thresholds of 1 fire, others never do.
public struct NoThresholdCounts: ThresholdCounts {
    public init() {}

    public func count(ruleID: String, did: String, since: Int64) -> Int { 0 }
}

/// Fixed counts per rule, the same for every account and window: for tests and `rules test`.
public struct FixedThresholdCounts: ThresholdCounts {
    public var counts: [String: Int]

    public init(_ counts: [String: Int]) { self.counts = counts }

    public func count(ruleID: String, did: String, since: Int64) -> Int { counts[ruleID] ?? 0 }
}

/// One threshold rule's matches for one account: what a count is kept under.
public struct ThresholdKey: Hashable, Sendable {
    public let ruleID: String
    public let did: String

    public init(ruleID: String, did: String) {
        self.ruleID = ruleID
        self.did = did
    }
}

/// Counts kept in memory from the bumps of earlier evaluations: for the command line and tests.
/// Grows with the number of matches; a service keeps counts in its store instead.
public struct InMemoryThresholdCounts: ThresholdCounts {
    private var times: [ThresholdKey: [Int64]] = [:]

    public init() {}

    public func count(ruleID: String, did: String, since: Int64) -> Int {
        times[ThresholdKey(ruleID: ruleID, did: did)]?.count(where: { $0 >= since }) ?? 0
    }

    /// Records the bumps of one evaluation.
    public mutating func record(_ bumps: [CounterBump]) {
        for bump in bumps { times[ThresholdKey(ruleID: bump.ruleID, did: bump.did), default: []].append(bump.time) }
    }
}
