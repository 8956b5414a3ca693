import ATProto
import GRDB

/// A stored trip, with whether its alert went out.
public struct StoredTrip: Sendable, Hashable {
    public var trip: RuleTrip
    /// When the webhook took its alert; nil while it has not.
    public var alertedAt: String?
}

extension LabelStore {
    /// The counts of `counters` and every trip: what planning a batch under budgets starts from.
    static func budgets(counting counters: Set<BudgetCounter>, db: Database) throws -> BudgetLedger {
        var ledger = BudgetLedger(tripped: Set(try String.fetchAll(db, sql: "SELECT rule_id FROM rule_trip")))
        ledger.counts = try counts(of: counters, db: db)
        return ledger
    }

    /// The stored counts of `counters`; a counter with no row is absent (its count is 0).
    private static func counts(
        of counters: some Collection<BudgetCounter>, db: Database
    ) throws -> [BudgetCounter: Int] {
        var counts: [BudgetCounter: Int] = [:]
        guard !counters.isEmpty else { return counts }
        let statement = try db.cachedStatement(
            sql: "SELECT count FROM rule_budget WHERE owner = ? AND window = ? AND idx = ?")
        for counter in counters {
            if let count = try Int.fetchOne(
                statement, arguments: [counter.owner, counter.window.rawValue, counter.index])
            {
                counts[counter] = count
            }
        }
        return counts
    }

    /// The stored counts of `counters` only (a counter with no row is absent: its count is 0),
    /// e.g. the global budget's windows at one moment, without the rules' counts or the trips.
    public func budgetCounts(of counters: [BudgetCounter]) throws(Error) -> [BudgetCounter: Int] {
        do {
            return try pool.read { db in try Self.counts(of: counters, db: db) }
        } catch {
            throw Error("reading rule budgets", error)
        }
    }

    /// Stores what planning counted and tripped. The counts are stored as they are, not added to:
    /// the transaction is refused (a stale plan) when anyone else wrote since its snapshot.
    /// Windows that ended two windows ago or earlier are dropped as the counts move on.
    static func store(_ ledger: BudgetLedger, db: Database) throws {
        let upsert = try db.cachedStatement(
            sql: """
                INSERT INTO rule_budget (owner, window, idx, count) VALUES (?, ?, ?, ?)
                ON CONFLICT (owner, window, idx) DO UPDATE SET count = excluded.count
                """)
        let prune = try db.cachedStatement(sql: "DELETE FROM rule_budget WHERE owner = ? AND window = ? AND idx < ?")
        for counter in ledger.changed {
            try upsert.execute(
                arguments: [counter.owner, counter.window.rawValue, counter.index, ledger.counts[counter] ?? 0])
            try prune.execute(arguments: [counter.owner, counter.window.rawValue, counter.index - 2])
        }
        for trip in ledger.newTrips {
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO rule_trip (rule_id, window, lim, event_time, tripped_at, label)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    trip.ruleID, trip.window.rawValue, trip.limit, trip.eventTime, trip.trippedAt, trip.label,
                ])
        }
    }

    /// Every tripped rule, oldest trip first.
    public func trips() throws(Error) -> [StoredTrip] {
        do {
            return try pool.read { db in try Self.trips(db: db, sql: "SELECT * FROM rule_trip ORDER BY rowid") }
        } catch {
            throw Error("reading rule trips", error)
        }
    }

    /// Trips whose alert has not gone out.
    public func unalertedTrips() throws(Error) -> [StoredTrip] {
        do {
            return try pool.read { db in
                try Self.trips(db: db, sql: "SELECT * FROM rule_trip WHERE alerted_at IS NULL ORDER BY rowid")
            }
        } catch {
            throw Error("reading rule trips", error)
        }
    }

    private static func trips(db: Database, sql: String, arguments: StatementArguments = []) throws -> [StoredTrip] {
        try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
            StoredTrip(
                trip: RuleTrip(
                    ruleID: row["rule_id"], window: BudgetWindow(rawValue: row["window"]) ?? .day, limit: row["lim"],
                    eventTime: row["event_time"], trippedAt: row["tripped_at"], label: row["label"]),
                alertedAt: row["alerted_at"])
        }
    }

    /// Notes that the alert of `trip` went out (only for that trip: the rule may have been reset
    /// and tripped again meanwhile).
    public func markAlerted(_ trip: RuleTrip, at time: Datetime) throws(Error) {
        do {
            try pool.write { db in
                try db.execute(
                    sql: "UPDATE rule_trip SET alerted_at = ? WHERE rule_id = ? AND tripped_at = ?",
                    arguments: [time.rawValue, trip.ruleID, trip.trippedAt])
            }
        } catch {
            throw Error("recording an alert", error)
        }
    }

    /// The counts of the windows holding `unixMicros`, per owner (rule id, or "*") and window.
    public func budgetCounts(at unixMicros: Int64) throws(Error) -> [String: [BudgetWindow: Int]] {
        do {
            return try pool.read { db in
                var out: [String: [BudgetWindow: Int]] = [:]
                for window in BudgetWindow.allCases {
                    let rows = try Row.fetchAll(
                        db, sql: "SELECT owner, count FROM rule_budget WHERE window = ? AND idx = ?",
                        arguments: [window.rawValue, window.index(ofMicros: unixMicros)])
                    for row in rows { out[row["owner"], default: [:]][window] = row["count"] }
                }
                return out
            }
        } catch {
            throw Error("reading rule budgets", error)
        }
    }

    /// Lets a tripped rule label again: drops its trip and its counts (so it starts its windows
    /// afresh), and moves the write epoch, so that a batch a running writer planned on the trip
    /// is planned again. Returns the trip dropped, nil when the rule was not tripped.
    @discardableResult
    public func resetRule(_ ruleID: String) throws(Error) -> StoredTrip? {
        do {
            return try pool.write { db in
                let trip = try Self.trips(db: db, sql: "SELECT * FROM rule_trip WHERE rule_id = ?", arguments: [ruleID])
                    .first
                try db.execute(sql: "DELETE FROM rule_trip WHERE rule_id = ?", arguments: [ruleID])
                try db.execute(sql: "DELETE FROM rule_budget WHERE owner = ?", arguments: [ruleID])
                try db.execute(sql: "UPDATE write_epoch SET value = value + 1 WHERE id = 1")
                return trip
            }
        } catch {
            throw Error("resetting rule \(ruleID)", error)
        }
    }
}
