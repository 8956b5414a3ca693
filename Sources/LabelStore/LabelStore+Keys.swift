import ATProto
import Foundation
import GRDB

extension LabelStore {
    /// Current rows signed by another key than `keyID`, in seq order, after `after`.
    public func labelsSigned(byOtherThan keyID: Int64, after: Int64, limit: Int) throws(Error) -> [StoredLabel] {
        do {
            return try pool.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT * FROM label WHERE key_id != ? AND seq > ? ORDER BY seq LIMIT ?",
                    arguments: [keyID, after, limit]
                ).map(Self.storedLabel)
            }
        } catch {
            throw Error("reading labels", error)
        }
    }

    /// How many current rows another key than `keyID` signed: the work `keys resign` has ahead.
    public func countLabelsSigned(byOtherThan keyID: Int64) throws(Error) -> Int {
        do {
            return try pool.read { db in
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM label WHERE key_id != ?", arguments: [keyID]) ?? 0
            }
        } catch {
            throw Error("counting labels", error)
        }
    }

    /// Stores new signatures for existing rows (after a key rotation). The labels' content and
    /// their seqs stay: what subscribers already have is still the current state, and anyone who
    /// reads it from now on gets a signature by the current key. A row changed meanwhile (its seq
    /// is gone) is skipped; its new version was signed by the current key anyway.
    ///
    /// - Returns: how many rows were re-signed.
    @discardableResult
    public func replaceSignatures(_ labels: [StoredLabel], keyID: Int64) throws(Error) -> Int {
        do {
            return try pool.write { db in
                var count = 0
                for stored in labels {
                    guard let sig = stored.label.sig else { continue }
                    try db.cachedStatement(sql: "UPDATE label SET sig = ?, key_id = ? WHERE seq = ? AND cts = ?")
                        .execute(arguments: [Data(sig), keyID, stored.seq, stored.label.cts])
                    count += db.changesCount
                }
                return count
            }
        } catch {
            throw Error("storing signatures", error)
        }
    }

    /// The did:key of every signing key the store knows, by row id.
    public func signingKeys() throws(Error) -> [Int64: String] {
        do {
            return try pool.read { db in
                var keys: [Int64: String] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT id, did_key FROM signing_key") {
                    keys[row["id"]] = row["did_key"]
                }
                return keys
            }
        } catch {
            throw Error("reading signing keys", error)
        }
    }
}
