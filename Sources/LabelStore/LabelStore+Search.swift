import ATProto
import Foundation
import GRDB

extension LabelStore {
    /// What the dashboard's label search asks for: every field that is set must match.
    public struct LabelSearch: Sendable, Equatable {
        /// An exact URI or DID, or a prefix ending in `*`.
        public var uri: String?
        public var val: String?
        /// Labels some rule with this id applied at some point (from the history).
        public var ruleID: String?
        /// Labels created at or after this time: an RFC 3339 datetime or a prefix of one
        /// (`2026-12-03`, `2026-12-03T10`), compared as text, as `cts` is stored.
        public var since: String?
        public var limit: Int

        public init(
            uri: String? = nil, val: String? = nil, ruleID: String? = nil, since: String? = nil, limit: Int = 50
        ) {
            self.uri = uri
            self.val = val
            self.ruleID = ruleID
            self.since = since
            self.limit = limit
        }
    }

    /// Current rows (applied and negated) matching `search`, newest first, so the most recent
    /// activity is what a person sees without paging.
    public func search(_ search: LabelSearch) throws(Error) -> [StoredLabel] {
        var filters = SQLConditions()
        filters.add(uri: search.uri, column: "label.uri")
        filters.add("label.val = ?", search.val)
        filters.add("label.cts >= ?", search.since)
        // The history is indexed by URI, so this probes a few rows per label.
        filters.add(
            "EXISTS (SELECT 1 FROM label_history h WHERE h.uri = label.uri AND h.cid = label.cid "
                + "AND h.val = label.val AND h.rule_id = ?)", search.ruleID)
        let arguments: [any DatabaseValueConvertible] = filters.arguments + [max(1, search.limit)]
        let sql = "SELECT * FROM label" + filters.whereClause + " ORDER BY seq DESC LIMIT ?"
        do {
            return try pool.read { db in
                try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map(Self.storedLabel)
            }
        } catch {
            throw Error("searching labels", error)
        }
    }

    /// Applied (not negated) labels: one count, cheaper than `statistics()`, which also groups
    /// the whole history.
    public func appliedLabelCount() throws(Error) -> Int {
        do {
            return try pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM label WHERE neg = 0") ?? 0 }
        } catch {
            throw Error("counting labels", error)
        }
    }
}
