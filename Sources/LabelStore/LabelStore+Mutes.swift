import ATProto
import GRDB

/// A muted reporter: reports it files are stored marked muted and kept out of `reports list`,
/// while it gets the same answer as anyone (telling it would only move it to another account).
public struct ReporterMute: Sendable, Equatable {
    public var did: String
    /// When the mute ends; nil: until unmuted.
    public var until: String?
    public var actor: String?
    public var note: String?
    public var createdAt: String
}

extension LabelStore {
    /// Mutes `did` until `until` (nil: until unmuted), replacing a mute it already has. Only the
    /// reports it files from now on are muted: the ones already filed stay as they are.
    public func muteReporter(_ did: String, until: String?, actor: String?, note: String?, at time: String)
        throws(Error)
    {
        do {
            try pool.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO reporter_mute (did, until, actor, note, created_at) VALUES (?, ?, ?, ?, ?)
                        ON CONFLICT (did) DO UPDATE SET until = excluded.until, actor = excluded.actor,
                            note = excluded.note, created_at = excluded.created_at
                        """,
                    arguments: [did, until, actor, note, time])
            }
        } catch {
            throw Error("muting \(did)", error)
        }
    }

    /// Ends the mute of `did`; returns whether it had one (ended or not).
    @discardableResult
    public func unmuteReporter(_ did: String) throws(Error) -> Bool {
        do {
            return try pool.write { db in
                try db.execute(sql: "DELETE FROM reporter_mute WHERE did = ?", arguments: [did])
                return db.changesCount > 0
            }
        } catch {
            throw Error("unmuting \(did)", error)
        }
    }

    /// The mute of `did` in force at `time` (an ended one is none).
    public func reporterMute(_ did: String, at time: String) throws(Error) -> ReporterMute? {
        do {
            return try pool.read { db in try Self.mute(db, did: did, at: time) }
        } catch {
            throw Error("reading the mute of \(did)", error)
        }
    }

    /// Mutes in force at `time`, by DID.
    public func reporterMutes(at time: String) throws(Error) -> [ReporterMute] {
        do {
            return try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM reporter_mute ORDER BY did").map(Self.reporterMute)
                    .filter { Self.inForce($0, at: time) }
            }
        } catch {
            throw Error("reading mutes", error)
        }
    }

    static func mute(_ db: Database, did: String, at time: String) throws -> ReporterMute? {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM reporter_mute WHERE did = ?", arguments: [did])
        else { return nil }
        let mute = reporterMute(row)
        return inForce(mute, at: time) ? mute : nil
    }

    /// Compared as instants: the times may be spelled differently.
    static func inForce(_ mute: ReporterMute, at time: String) -> Bool {
        guard let until = mute.until else { return true }
        guard let end = try? Datetime(until), let now = try? Datetime(time) else { return until > time }
        return now.unixMicros < end.unixMicros
    }

    static func reporterMute(_ row: Row) -> ReporterMute {
        ReporterMute(
            did: row["did"], until: row["until"], actor: row["actor"], note: row["note"], createdAt: row["created_at"])
    }
}
