import GRDB

/// A query's filters as SQL: conditions joined with AND, and the arguments of their `?`s in
/// order. A filter that is not set (nil) adds nothing.
///
/// ```swift
/// var filters = SQLConditions()
/// filters.add("val = ?", val)
/// filters.add(uri: uri, column: "uri")
/// let sql = "SELECT * FROM label" + filters.whereClause
/// ```
struct SQLConditions {
    private(set) var conditions: [String] = []
    private(set) var arguments: [any DatabaseValueConvertible] = []

    /// A condition with no argument.
    mutating func add(_ condition: String) { conditions.append(condition) }

    /// `condition`, whose one `?` is `argument`; nothing when `argument` is nil.
    mutating func add<Value: DatabaseValueConvertible>(_ condition: String, _ argument: Value?) {
        guard let argument else { return }
        conditions.append(condition)
        arguments.append(argument)
    }

    /// The condition on `column` for `uri` (see ``LabelStore/uriCondition(_:column:)``);
    /// nothing when `uri` is nil.
    mutating func add(uri: String?, column: String) {
        guard let uri else { return }
        let condition = LabelStore.uriCondition(uri, column: column)
        add(condition.sql, condition.argument)
    }

    /// The conditions joined with AND.
    var sql: String { conditions.joined(separator: " AND ") }

    /// ` WHERE` and the conditions, or "" when there are none.
    var whereClause: String { conditions.isEmpty ? "" : " WHERE " + sql }
}
