import ATProto
import Foundation
import GRDB

/// A row of `label`: the current state of one label key, under the seq it was last changed with.
/// Read column by column (not through Codable): the label stream reads these rows by the
/// thousand. Written only by `LabelStore.commit`, through `insertSQL`.
struct LabelRow: FetchableRecord, Sendable {
    var seq: Int64?
    var src: String
    var uri: String
    /// "" for no cid, so that the key is unique.
    var cid: String
    var val: String
    var neg: Bool
    var cts: String
    var exp: String?
    var sig: Data
    var keyID: Int64
    var locked: Bool
    var eventSource: String?
    var eventSeq: Int64?

    init(row: Row) throws {
        seq = row["seq"]
        src = row["src"]
        uri = row["uri"]
        cid = row["cid"]
        val = row["val"]
        neg = row["neg"]
        cts = row["cts"]
        exp = row["exp"]
        sig = row["sig"]
        keyID = row["key_id"]
        locked = row["locked"]
        eventSource = row["event_source"]
        eventSeq = row["event_seq"]
    }

    init(_ label: Label, sig: [UInt8], keyID: Int64, locked: Bool, event: EventPosition?) {
        src = label.src
        uri = label.uri
        cid = label.cid ?? ""
        val = label.val
        neg = label.isNegation
        cts = label.cts
        exp = label.exp
        self.sig = Data(sig)
        self.keyID = keyID
        self.locked = locked
        eventSource = event?.source.rawValue
        eventSeq = event?.seq
    }

    /// The writer's insert, as a prepared statement (see `LabelStore.commit`).
    static let insertSQL = """
        INSERT INTO label (src, uri, cid, val, neg, cts, exp, sig, key_id, locked, event_source, event_seq)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    var insertArguments: StatementArguments {
        [src, uri, cid, val, neg, cts, exp, sig, keyID, locked, eventSource, eventSeq]
    }

    var stored: StoredLabel {
        StoredLabel(
            seq: seq ?? 0,
            label: Label(
                src: src, uri: uri, cid: cid.isEmpty ? nil : cid, val: val, neg: neg ? true : nil, cts: cts, exp: exp,
                sig: Array(sig)),
            keyID: keyID)
    }
}

/// A row of `label_history`: one accepted change, with why it was made.
struct LabelHistoryRow: Codable, FetchableRecord, PersistableRecord, Sendable {
    static let databaseTableName = "label_history"

    var id: Int64?
    var seq: Int64
    var src: String
    var uri: String
    var cid: String
    var val: String
    var action: String
    var origin: String
    var ruleID: String?
    var actor: String?
    var field: String?
    var snippet: String?
    var reason: String?
    var reportID: Int64?
    var createdAt: String

    enum CodingKeys: String, CodingKey {
        case id, seq, src, uri, cid, val, action, origin, actor, field, snippet, reason
        case ruleID = "rule_id"
        case reportID = "report_id"
        case createdAt = "created_at"
    }

    init(_ change: LabelChange, seq: Int64, src: String, at time: String) {
        self.seq = seq
        self.src = src
        uri = change.subject.rawValue
        cid = change.cid ?? ""
        val = change.val
        action = change.action.rawValue
        switch change.origin {
        case .rule(let id):
            origin = "rule"
            ruleID = id
        case .manual(let who):
            origin = "manual"
            actor = who
        }
        field = change.field
        snippet = change.snippet
        reason = change.reason
        reportID = change.reportID
        createdAt = time
    }

    /// The writer's insert, as a prepared statement (see `LabelStore.commit`).
    static let insertSQL = """
        INSERT INTO label_history (seq, src, uri, cid, val, action, origin, rule_id, actor, field, snippet, reason,
            report_id, created_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    var insertArguments: StatementArguments {
        [seq, src, uri, cid, val, action, origin, ruleID, actor, field, snippet, reason, reportID, createdAt]
    }

    var entry: LabelHistoryEntry {
        LabelHistoryEntry(
            seq: seq, uri: uri, cid: cid.isEmpty ? nil : cid, val: val,
            action: LabelChange.Action(rawValue: action) ?? .apply, origin: origin, ruleID: ruleID, actor: actor,
            field: field, snippet: snippet, reason: reason, reportID: reportID, time: createdAt)
    }
}

/// A row of `threshold_hit`: one match of a threshold rule, kept for as long as its window.
struct ThresholdHitRow: Codable, FetchableRecord, PersistableRecord, Sendable {
    static let databaseTableName = "threshold_hit"

    var ruleID: String
    var did: String
    var time: Int64
    var eventSource: String?
    var eventSeq: Int64?
    var ordinal: Int?

    enum CodingKeys: String, CodingKey {
        case did, time, ordinal
        case ruleID = "rule_id"
        case eventSource = "event_source"
        case eventSeq = "event_seq"
    }

    init(_ hit: ThresholdHit) {
        ruleID = hit.ruleID
        did = hit.did
        time = hit.time
        eventSource = hit.event?.source.rawValue
        eventSeq = hit.event?.seq
        ordinal = hit.event?.ordinal
    }

    func hit(window: Int64) -> ThresholdHit {
        ThresholdHit(
            ruleID: ruleID, did: did, time: time, window: window,
            event: eventSource.flatMap { source in
                eventSeq.flatMap { seq in
                    ordinal.map { ThresholdEvent(source: CursorName(source), seq: seq, ordinal: $0) }
                }
            })
    }
}

/// A row of `cursor`: how far one stream has been handled.
struct CursorRow: Codable, FetchableRecord, PersistableRecord, Sendable {
    static let databaseTableName = "cursor"

    var source: String
    var seq: Int64
    var updatedAt: String

    enum CodingKeys: String, CodingKey {
        case source, seq
        case updatedAt = "updated_at"
    }
}
