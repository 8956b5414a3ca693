import LabelStore

/// What the dashboard shows that only the wiring knows: the ingest side's counters, the rules
/// loaded now, and the rule engine for the playground. The wiring (Labeler) hands these in as
/// closures, as it does `submit` and `health`, so that this module does not depend on it. Each
/// closure is called once per request that needs it.
public struct DashboardSource: Sendable {
    /// The counters behind the overview's charts, read now.
    public var counters: @Sendable () -> DashboardCounters
    /// Every rule loaded now, in file order.
    public var rules: @Sendable () -> [DashboardRule]
    /// Runs the current rules over one input, as `labeler rules eval` does; nil hides the
    /// playground.
    public var evaluate: (@Sendable (PlaygroundInput) -> PlaygroundOutcome)?

    public init(
        counters: @escaping @Sendable () -> DashboardCounters = { DashboardCounters() },
        rules: @escaping @Sendable () -> [DashboardRule] = { [] },
        evaluate: (@Sendable (PlaygroundInput) -> PlaygroundOutcome)? = nil
    ) {
        self.counters = counters
        self.rules = rules
        self.evaluate = evaluate
    }
}

/// The ingest side's totals since the start (counters) and its state now (gauges); the page
/// turns the totals into rates from one poll to the next, so the server keeps no history.
public struct DashboardCounters: Sendable, Equatable {
    /// Stream events handled.
    public var events: Int
    /// Label rows written by the writer.
    public var labelsWritten: Int
    /// Labels written (applied), by value.
    public var labelsByValue: [String: Int]
    /// Rule hits (labels and dry runs), by rule id.
    public var ruleHits: [String: Int]
    /// Seconds between now and the newest event handled; nil before the first.
    public var lagSeconds: Double?
    /// The low-water mark of the stream: every event at or below it is handled.
    public var cursor: Int64?
    /// Label transactions committed, and the time spent in them: their ratio over an interval
    /// is the mean commit time.
    public var commits: Int
    public var commitSeconds: Double
    /// Events waiting in the scheduler's queues.
    public var schedulerQueue: Int
    /// Label changes waiting for room in the global budget.
    public var labelQueue: Int

    public init(
        events: Int = 0, labelsWritten: Int = 0, labelsByValue: [String: Int] = [:], ruleHits: [String: Int] = [:],
        lagSeconds: Double? = nil, cursor: Int64? = nil, commits: Int = 0, commitSeconds: Double = 0,
        schedulerQueue: Int = 0, labelQueue: Int = 0
    ) {
        self.events = events
        self.labelsWritten = labelsWritten
        self.labelsByValue = labelsByValue
        self.ruleHits = ruleHits
        self.lagSeconds = lagSeconds
        self.cursor = cursor
        self.commits = commits
        self.commitSeconds = commitSeconds
        self.schedulerQueue = schedulerQueue
        self.labelQueue = labelQueue
    }
}

/// One rule as the Rules page lists it.
public struct DashboardRule: Sendable, Equatable {
    public var id: String
    /// The label value it emits; nil for a rule that only counts or negates.
    public var label: String?
    /// `enforce` or `log` (dry run).
    public var mode: String
    /// Hits since the start.
    public var hits: Int
    /// Its budget (`limits:`), if any.
    public var limits: BudgetLimits?

    public init(id: String, label: String?, mode: String, hits: Int, limits: BudgetLimits?) {
        self.id = id
        self.label = label
        self.mode = mode
        self.hits = hits
        self.limits = limits
    }
}

/// What the playground runs the rules over: a post's text, or a record as JSON.
public struct PlaygroundInput: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case text
        case record
    }

    public var kind: Kind
    public var content: String
    /// The record's collection (a post for text).
    public var collection: String

    public init(kind: Kind, content: String, collection: String) {
        self.kind = kind
        self.content = content
        self.collection = collection
    }
}

/// What the rules did with a playground input: one line per rule that fired, label it would
/// apply, negation, count or failure (the lines `labeler rules eval` prints), or why the input
/// could not be read.
public enum PlaygroundOutcome: Sendable, Equatable {
    case lines([String])
    case refused(String)
}
