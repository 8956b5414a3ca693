import ATProto
import GRDB

/// An `#account` event that matters to verification: the account became inactive (`status`
/// one of the inactive statuses) or active again (`status` nil).
public struct AccountStatusChange: Sendable, Hashable {
    public var did: String
    public var status: String?

    public init(did: String, status: String?) {
        self.did = did
        self.status = status
    }
}

extension LabelStore {
    static func store(_ change: AccountStatusChange, at time: String, db: Database) throws {
        if let status = change.status {
            try db.cachedStatement(
                sql: """
                    INSERT INTO account_status (did, status, updated_at) VALUES (?, ?, ?)
                    ON CONFLICT (did) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at
                    """
            ).execute(arguments: [change.did, status, time])
        } else {
            try db.cachedStatement(sql: "DELETE FROM account_status WHERE did = ?").execute(arguments: [change.did])
        }
    }

    /// Accounts inactive as of the stored events, heard of at or after `since`; older ones are
    /// dropped (an account silent that long is looked at afresh).
    public func inactiveAccounts(since: Datetime) throws(Error) -> [(did: String, status: String)] {
        do {
            return try pool.write { db in
                try db.execute(sql: "DELETE FROM account_status WHERE updated_at < ?", arguments: [since.rawValue])
                return try Row.fetchAll(db, sql: "SELECT did, status FROM account_status").map {
                    (did: $0["did"], status: $0["status"])
                }
            }
        } catch {
            throw Error("reading account statuses", error)
        }
    }
}
