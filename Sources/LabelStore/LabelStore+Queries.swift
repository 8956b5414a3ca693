import ATProto
import Foundation
import GRDB

extension LabelStore {
    /// Filters for `labels list`.
    public struct LabelFilter: Sendable {
        /// An exact URI, or a prefix ending in `*`.
        public var uri: String?
        public var val: String?
        public var src: String?
        /// Only rows with a larger seq.
        public var since: Int64
        public var limit: Int

        public init(uri: String? = nil, val: String? = nil, src: String? = nil, since: Int64 = 0, limit: Int = 100) {
            self.uri = uri
            self.val = val
            self.src = src
            self.since = since
            self.limit = limit
        }
    }

    /// Current rows matching `filter`, in seq order.
    public func labels(matching filter: LabelFilter) throws(Error) -> [StoredLabel] {
        var filters = SQLConditions()
        filters.add("seq > ?", filter.since)
        filters.add(uri: filter.uri, column: "uri")
        filters.add("val = ?", filter.val)
        filters.add("src = ?", filter.src)
        let arguments: [any DatabaseValueConvertible] = filters.arguments + [filter.limit]
        let sql = "SELECT * FROM label" + filters.whereClause + " ORDER BY seq LIMIT ?"
        do {
            return try pool.read { db in
                try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map(Self.storedLabel)
            }
        } catch {
            throw Error("reading labels", error)
        }
    }

    /// The SQL condition on `column` for `uri`: an exact URI or DID, or a prefix ending in `*`
    /// (LIKE, with the prefix's own wildcards escaped).
    static func uriCondition(_ uri: String, column: String) -> (sql: String, argument: String) {
        guard uri.hasSuffix("*") else { return ("\(column) = ?", uri) }
        return ("\(column) LIKE ? ESCAPE '\\'", likeEscaped(String(uri.dropLast())) + "%")
    }

    static func likeEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_")
    }

    public struct Statistics: Sendable, Equatable {
        /// Applied (not negated) labels.
        public var labels: Int
        /// Negated rows still on the stream.
        public var negated: Int
        public var lastSeq: Int64
        public var byValue: [String: Int]
        /// Applications by rule id (`manual` for people), over the whole history.
        public var byRule: [String: Int]
        public var cursors: [(source: String, seq: Int64, updatedAt: String)]

        public static func == (a: Statistics, b: Statistics) -> Bool {
            a.labels == b.labels && a.negated == b.negated && a.lastSeq == b.lastSeq && a.byValue == b.byValue
                && a.byRule == b.byRule && a.cursors.map(\.source) == b.cursors.map(\.source)
                && a.cursors.map(\.seq) == b.cursors.map(\.seq)
        }
    }

    public func statistics() throws(Error) -> Statistics {
        do {
            return try pool.read { db in
                let labels = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM label WHERE neg = 0") ?? 0
                let negated = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM label WHERE neg = 1") ?? 0
                let lastSeq = try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM label") ?? 0
                var byValue: [String: Int] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT val, COUNT(*) AS n FROM label WHERE neg = 0 GROUP BY val")
                {
                    byValue[row["val"]] = row["n"]
                }
                var byRule: [String: Int] = [:]
                for row in try Row.fetchAll(
                    db,
                    sql:
                        "SELECT COALESCE(rule_id, 'manual') AS rule, COUNT(*) AS n FROM label_history WHERE action = 'apply' GROUP BY rule"
                ) {
                    byRule[row["rule"]] = row["n"]
                }
                let cursors = try Row.fetchAll(db, sql: "SELECT source, seq, updated_at FROM cursor ORDER BY source")
                    .map {
                        (source: $0["source"] as String, seq: $0["seq"] as Int64, updatedAt: $0["updated_at"] as String)
                    }
                return Statistics(
                    labels: labels, negated: negated, lastSeq: lastSeq, byValue: byValue, byRule: byRule,
                    cursors: cursors)
            }
        } catch {
            throw Error("reading statistics", error)
        }
    }
}
