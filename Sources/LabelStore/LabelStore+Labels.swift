import ATProto
import Foundation
import GRDB

extension LabelStore {
    /// A signing key known to the store; labels record which key signed them.
    public func keyID(forDIDKey didKey: String, at time: String) throws(Error) -> Int64 {
        do {
            return try pool.write { db in
                if let id = try Int64.fetchOne(
                    db, sql: "SELECT id FROM signing_key WHERE did_key = ?", arguments: [didKey])
                {
                    return id
                }
                try db.execute(
                    sql: "INSERT INTO signing_key (did_key, created_at) VALUES (?, ?)", arguments: [didKey, time])
                return db.lastInsertedRowID
            }
        } catch {
            throw Error("recording the signing key", error)
        }
    }

    /// Current rows with seq above `after`, in seq order, at most `limit` (for the label stream).
    public func labels(after: Int64, limit: Int) throws(Error) -> [StoredLabel] {
        do {
            return try pool.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT * FROM label WHERE seq > ? ORDER BY seq LIMIT ?", arguments: [after, limit]
                ).map(Self.storedLabel)
            }
        } catch {
            throw Error("reading labels", error)
        }
    }

    /// The history of one subject, oldest first.
    public func history(of subject: LabelSubject) throws(Error) -> [LabelHistoryEntry] {
        do {
            return try pool.read { db in
                try LabelHistoryRow.fetchAll(
                    db, sql: "SELECT * FROM label_history WHERE uri = ? ORDER BY id", arguments: [subject.rawValue]
                )
                .map(\.entry)
            }
        } catch {
            throw Error("reading history", error)
        }
    }

    /// The highest seq in the label stream (0 when empty).
    public func lastLabelSeq() throws(Error) -> Int64 {
        do {
            return try pool.read { db in try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM label") ?? 0 }
        } catch {
            throw Error("reading labels", error)
        }
    }

    static func storedLabel(_ row: Row) throws -> StoredLabel {
        try LabelRow(row: row).stored
    }
}
