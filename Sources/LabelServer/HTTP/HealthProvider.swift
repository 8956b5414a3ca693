import ATProto

/// What `/xrpc/_health` reports besides the server's own state. The wiring supplies the
/// closures (the ingest side knows its cursor and how far it trails the relay); each is called
/// once per health request.
public struct HealthProvider: Sendable {
    /// The labeler's version string.
    public var version: String
    /// The stored relay cursor, when there is one.
    public var cursor: @Sendable () -> Int64?
    /// Seconds between now and the time of the last relay event processed, when known.
    public var secondsBehindRelay: @Sendable () -> Double?
    /// Whether the database answers; nil asks the label store itself.
    public var databaseReachable: (@Sendable () -> Bool)?

    public init(
        version: String, cursor: @escaping @Sendable () -> Int64? = { nil },
        secondsBehindRelay: @escaping @Sendable () -> Double? = { nil },
        databaseReachable: (@Sendable () -> Bool)? = nil
    ) {
        self.version = version
        self.cursor = cursor
        self.secondsBehindRelay = secondsBehindRelay
        self.databaseReachable = databaseReachable
    }
}

/// The body of `/xrpc/_health`.
struct HealthReport: Sendable, Equatable {
    var version: String
    var databaseReachable: Bool
    var cursor: Int64?
    var secondsBehindRelay: Double?
    var subscribers: Int

    /// Healthy while the database answers; the rest is information for the operator.
    var isHealthy: Bool { databaseReachable }

    var json: String {
        var pairs: [(String, CBORValue)] = [
            ("status", .text(CBORText(isHealthy ? "ok" : "error"))),
            ("version", .text(CBORText(version))),
            ("databaseReachable", .bool(databaseReachable)),
            ("subscribers", .int(Int64(subscribers))),
        ]
        if let cursor { pairs.append(("cursor", .int(cursor))) }
        var json = DataModelJSON.serialize(.map(CBORMap(pairs)))
        // The data model has no floats; seconds behind are rendered here, to the millisecond.
        if let seconds = secondsBehindRelay, seconds.isFinite {
            json.removeLast()
            json += #","secondsBehindRelay":"# + String((seconds * 1000).rounded() / 1000) + "}"
        }
        return json
    }
}
