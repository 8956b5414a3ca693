import ATProto

/// The body of `/dashboard/api/overview`: the counters now, for the page to chart. Totals stay
/// totals (the page divides the difference between two polls by the time between them), so
/// every open page gets its own rates and the server keeps nothing per viewer.
struct DashboardOverview: Sendable, Equatable {
    /// Seconds since 1970, to the millisecond: the time the counters were read.
    var time: Double
    /// Labels applied now (negated ones not counted).
    var storedLabels: Int
    var subscribers: Int
    var counters: DashboardCounters

    var json: String {
        let c = counters
        let fields: [(String, String)] = [
            ("time", Self.number(time)),
            ("storedLabels", String(storedLabels)),
            ("events", String(c.events)),
            ("labelsWritten", String(c.labelsWritten)),
            ("labelsByValue", Self.object(c.labelsByValue)),
            ("ruleHits", Self.object(c.ruleHits)),
            ("lagSeconds", c.lagSeconds.map(Self.number) ?? "null"),
            ("cursor", c.cursor.map(String.init) ?? "null"),
            ("commits", String(c.commits)),
            ("commitSeconds", Self.number(c.commitSeconds)),
            ("subscribers", String(subscribers)),
            ("schedulerQueue", String(c.schedulerQueue)),
            ("labelQueue", String(c.labelQueue)),
        ]
        return "{" + fields.map { "\(DataModelJSON.quote($0.0)):\($0.1)" }.joined(separator: ",") + "}"
    }

    /// A JSON number to the microsecond; a value that is not finite (never expected) as 0, so
    /// the page always parses.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let rounded = (value * 1_000_000).rounded() / 1_000_000
        if rounded == rounded.rounded(), abs(rounded) < 1e15 { return String(Int64(rounded)) }
        return String(rounded)
    }

    static func object(_ counts: [String: Int]) -> String {
        "{"
            + counts.sorted { $0.key < $1.key }.map { "\(DataModelJSON.quote($0.key)):\($0.value)" }.joined(
                separator: ",") + "}"
    }
}
