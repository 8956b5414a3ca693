/// A fixed clock window that budgets count in: a whole UTC second, minute, hour or day. Fixed
/// windows (not sliding ones) make a count exact whatever order parallel workers hand changes
/// over in: an application belongs to one window by its time, and each window admits exactly its
/// limit.
public enum BudgetWindow: String, Sendable, Hashable, CaseIterable, Comparable {
    case second
    case minute
    case hour
    case day

    /// The window's length in seconds.
    public var seconds: Int64 {
        switch self {
        case .second: 1
        case .minute: 60
        case .hour: 3_600
        case .day: 86_400
        }
    }

    /// The number of the window holding `unixMicros` (windows since 1970-01-01T00:00:00Z).
    public func index(ofMicros unixMicros: Int64) -> Int64 {
        let seconds = unixMicros >= 0 ? unixMicros / 1_000_000 : (unixMicros - 999_999) / 1_000_000
        return seconds >= 0 ? seconds / self.seconds : (seconds - self.seconds + 1) / self.seconds
    }

    /// The key a limit of this window has in rule files and the configuration (`per_minute`).
    public var key: String { "per_\(rawValue)" }

    public static func < (a: Self, b: Self) -> Bool { a.seconds < b.seconds }
}

/// How many label applications a rule (or the labeler as a whole) may make per window.
public struct BudgetLimits: Hashable, Sendable, CustomStringConvertible {
    /// The limit of each window that has one.
    public var perWindow: [BudgetWindow: Int]

    public init(_ perWindow: [BudgetWindow: Int] = [:]) { self.perWindow = perWindow }

    public var isEmpty: Bool { perWindow.isEmpty }

    /// The windows with a limit, shortest first.
    public var windows: [(window: BudgetWindow, limit: Int)] {
        perWindow.sorted { $0.key < $1.key }.map { (window: $0.key, limit: $0.value) }
    }

    /// `60/minute, 1000/day`.
    public var description: String { windows.map { "\($0.limit)/\($0.window.rawValue)" }.joined(separator: ", ") }
}

/// One window's count for one budget: the rule id (or ``BudgetLedger/globalID``), the window
/// kind and its number.
public struct BudgetCounter: Hashable, Sendable {
    public var owner: String
    public var window: BudgetWindow
    public var index: Int64

    public init(owner: String, window: BudgetWindow, index: Int64) {
        self.owner = owner
        self.window = window
        self.index = index
    }
}

/// A rule that went over its budget: from this application on, its labels are withheld until a
/// person resets it (`labeler rules reset ID`).
public struct RuleTrip: Hashable, Sendable {
    public var ruleID: String
    /// The window whose limit was reached, and that limit.
    public var window: BudgetWindow
    public var limit: Int
    /// The time of the event whose label would have gone over, in microseconds.
    public var eventTime: Int64
    /// When it was recorded (the writer's clock), as an atproto datetime.
    public var trippedAt: String
    /// The label that would have gone over (`uri val`), for the alert.
    public var label: String

    public init(ruleID: String, window: BudgetWindow, limit: Int, eventTime: Int64, trippedAt: String, label: String) {
        self.ruleID = ruleID
        self.window = window
        self.limit = limit
        self.eventTime = eventTime
        self.trippedAt = trippedAt
        self.label = label
    }
}

/// The budgets' state as far as one batch needs it, and what planning the batch changed in it:
/// a pure value the planner updates and the writer's transaction stores.
///
/// A rule's application is admitted while every window with a limit has room; the first one that
/// would go over trips the rule, and it and every later application of that rule are withheld
/// (counted, not emitted). Negations and people's labels are never withheld: taking a label back
/// is always allowed, and a person decides for themselves.
public struct BudgetLedger: Sendable {
    /// The counter of the labeler as a whole (the global budget), beside the rules' ids.
    public static let globalID = "*"

    /// The counts read or made so far.
    public var counts: [BudgetCounter: Int]
    /// Rules tripped, stored or new.
    public var tripped: Set<String>
    /// Trips made by this batch.
    public var newTrips: [RuleTrip] = []
    /// Counters this batch changed, to store.
    public var changed: Set<BudgetCounter> = []
    /// Applications withheld by this batch, per rule.
    public var withheld: [String: Int] = [:]

    public init(counts: [BudgetCounter: Int] = [:], tripped: Set<String> = []) {
        self.counts = counts
        self.tripped = tripped
    }

    /// The counters an application at `unixMicros` under `limits` is counted in.
    public static func counters(owner: String, limits: BudgetLimits, at unixMicros: Int64) -> [BudgetCounter] {
        limits.windows.map {
            BudgetCounter(owner: owner, window: $0.window, index: $0.window.index(ofMicros: unixMicros))
        }
    }

    /// Whether `rule` may apply one more label at `unixMicros`; counts it when it may. Trips the
    /// rule when a window is full (`label` names the application, for the alert).
    public mutating func admit(
        rule: String, limits: BudgetLimits?, at unixMicros: Int64, trippedAt: String, label: String
    ) -> Bool {
        if tripped.contains(rule) {
            withheld[rule, default: 0] += 1
            return false
        }
        guard let limits, !limits.isEmpty else { return true }
        let counters = Self.counters(owner: rule, limits: limits, at: unixMicros)
        for (counter, limit) in zip(counters, limits.windows.map(\.limit)) where counts[counter, default: 0] >= limit {
            tripped.insert(rule)
            newTrips.append(
                RuleTrip(
                    ruleID: rule, window: counter.window, limit: limit, eventTime: unixMicros, trippedAt: trippedAt,
                    label: label))
            withheld[rule, default: 0] += 1
            return false
        }
        for counter in counters {
            counts[counter, default: 0] += 1
            changed.insert(counter)
        }
        return true
    }

    /// Whether the labeler as a whole may send one more label at `unixMicros` under `limits`;
    /// counts it when it may. Nothing trips: what does not fit waits in the queue.
    public mutating func admitGlobal(limits: BudgetLimits, at unixMicros: Int64) -> Bool {
        let counters = Self.counters(owner: Self.globalID, limits: limits, at: unixMicros)
        for (counter, limit) in zip(counters, limits.windows.map(\.limit)) where counts[counter, default: 0] >= limit {
            return false
        }
        for counter in counters {
            counts[counter, default: 0] += 1
            changed.insert(counter)
        }
        return true
    }

    /// How many more labels the global budget lets out at `unixMicros` (`Int.max` without limits).
    public func globalRoom(limits: BudgetLimits, at unixMicros: Int64) -> Int {
        var room = Int.max
        for (window, limit) in limits.windows {
            let counter = BudgetCounter(owner: Self.globalID, window: window, index: window.index(ofMicros: unixMicros))
            room = min(room, max(0, limit - counts[counter, default: 0]))
        }
        return room
    }

    /// This ledger (as stored) with what `later`, a batch planned before and not stored yet,
    /// counted and tripped. Only its changes: what it merely read may be older than this (a
    /// reset since).
    public mutating func overlay(_ later: BudgetLedger) {
        for counter in later.changed { counts[counter] = later.counts[counter] }
        tripped.formUnion(later.newTrips.map(\.ruleID))
    }

    /// Whether planning changed anything to store.
    public var hasChanges: Bool { !changed.isEmpty || !newTrips.isEmpty }
}
