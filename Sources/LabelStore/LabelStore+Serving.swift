import ATProto
import Foundation
import GRDB

extension LabelStore {
    /// Which subjects a `queryLabels` request asks about.
    public enum URIPattern: Sendable, Hashable {
        /// Exactly this URI.
        case exact(String)
        /// Every URI that starts with this text (the pattern without its trailing `*`). Matched as a
        /// byte range over the `uri` index, so `%`, `_` and `\` are ordinary characters.
        case prefix(String)
    }

    /// A page of current labels for `queryLabels`.
    public struct ActiveLabelQuery: Sendable, Hashable {
        /// Any of these matches; empty means every URI (the pattern `*`).
        public var uriPatterns: [URIPattern]
        /// Only labels from these sources; empty means any.
        public var sources: [String]
        /// Only rows with a larger seq (the previous page's cursor).
        public var after: Int64
        public var limit: Int
        /// Labels that expire at or before this datetime are left out. It must be in the stored
        /// form (`Datetime.format`: UTC, milliseconds, `Z`), which sorts as text.
        public var now: String

        public init(uriPatterns: [URIPattern], sources: [String] = [], after: Int64 = 0, limit: Int, now: String) {
            self.uriPatterns = uriPatterns
            self.sources = sources
            self.after = after
            self.limit = limit
            self.now = now
        }
    }

    /// Current, non-negated, unexpired labels matching `query`, in seq order.
    public func activeLabels(_ query: ActiveLabelQuery) throws(Error) -> [StoredLabel] {
        let (sql, arguments) = Self.sql(for: query)
        do {
            return try pool.read { db in
                try Row.fetchAll(db.cachedStatement(sql: sql), arguments: arguments).map(Self.storedLabel)
            }
        } catch {
            throw Error("reading labels", error)
        }
    }

    /// The active labels `val` on `subject`, on every version of it (with a CID or without):
    /// what negating the value on the subject has to negate. Only labels of `sources`, when given.
    public func activeVersions(of val: String, on subject: LabelSubject, sources: [String] = [], now: String)
        throws(Error) -> [StoredLabel]
    {
        try activeLabels(.init(uriPatterns: [.exact(subject.rawValue)], sources: sources, limit: 1000, now: now))
            .filter { $0.label.val == val }
    }

    /// SQLite's plan for `query` (the `detail` column of `EXPLAIN QUERY PLAN`), so tests and
    /// diagnostics can check that URI patterns are answered from an index, not a table scan.
    public func queryPlan(for query: ActiveLabelQuery) throws(Error) -> [String] {
        let (sql, arguments) = Self.sql(for: query)
        do {
            return try pool.read { db in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments).map {
                    $0["detail"] as String
                }
            }
        } catch {
            throw Error("explaining a label query", error)
        }
    }

    static func sql(for query: ActiveLabelQuery) -> (String, StatementArguments) {
        var conditions = ["seq > ?", "neg = 0", "(exp IS NULL OR exp > ?)"]
        var arguments: [any DatabaseValueConvertible] = [query.after, query.now]
        if !query.uriPatterns.isEmpty {
            var alternatives: [String] = []
            for pattern in query.uriPatterns {
                switch pattern {
                case .exact(let uri):
                    alternatives.append("uri = ?")
                    arguments.append(uri)
                case .prefix(let prefix):
                    // `uri >= prefix AND uri < bound` with the smallest text above every string that
                    // starts with the prefix. SQLite answers it from the index on `uri` (LIKE would
                    // not use it), and no character of the prefix is special.
                    alternatives.append("(uri >= ? AND uri < CAST(? AS TEXT))")
                    arguments.append(prefix)
                    arguments.append(Data(prefixUpperBound(prefix)))
                }
            }
            conditions.append("(" + alternatives.joined(separator: " OR ") + ")")
        }
        if !query.sources.isEmpty {
            conditions.append(
                "src IN (" + Array(repeating: "?", count: query.sources.count).joined(separator: ", ") + ")")
            arguments.append(contentsOf: query.sources.map { $0 as any DatabaseValueConvertible })
        }
        arguments.append(query.limit)
        // With URI patterns the rows come from the `uri` index, named outright: without statistics
        // SQLite prefers walking the whole table in seq order to skip the final sort, which costs
        // a scan of every label for a handful of matches.
        let table = query.uriPatterns.isEmpty ? "label" : "label INDEXED BY label_uri"
        let sql = "SELECT * FROM \(table) WHERE " + conditions.joined(separator: " AND ") + " ORDER BY seq LIMIT ?"
        return (sql, StatementArguments(arguments))
    }

    /// The UTF-8 bytes of `prefix` followed by `F4 90`. Text compares bytewise, and in UTF-8 a
    /// character starts with a byte of at most `F4`, followed by at most `8F` when it is `F4`, so
    /// every string beginning with `prefix` sorts below this bound and nothing else at or above
    /// `prefix` does. (The bytes are not valid UTF-8 on purpose; they are only compared.)
    static func prefixUpperBound(_ prefix: String) -> [UInt8] {
        Array(prefix.utf8) + [0xF4, 0x90]
    }
}
