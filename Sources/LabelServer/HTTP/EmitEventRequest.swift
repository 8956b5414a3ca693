import ATProto
import LabelStore

/// A `tools.ozone.moderation.emitEvent` request that applies or negates labels by hand.
///
/// Only `tools.ozone.moderation.defs#modEventLabel` events are accepted, on an account
/// (`com.atproto.admin.defs#repoRef`, `{did}`) or a record version
/// (`com.atproto.repo.strongRef`, `{uri, cid}`).
struct EmitEventRequest: Sendable {
    static let labelEventType = "tools.ozone.moderation.defs#modEventLabel"
    static let repoRefType = "com.atproto.admin.defs#repoRef"
    static let strongRefType = "com.atproto.repo.strongRef"

    /// The request's `event` and `subject`, echoed in the response.
    let event: CBORValue
    let subject: CBORValue
    let createdBy: String
    let labelSubject: LabelSubject
    let cid: String?
    let create: [String]
    let negate: [String]
    let comment: String?
    let durationInHours: Int64?

    init(json: String) throws(XRPCError) {
        let parsed: CBORValue
        do {
            parsed = try DataModelJSON.parseObject(json)
        } catch {
            throw .invalidRequest("the body is not valid JSON: \(error)")
        }
        guard case .map(let body) = parsed else { throw .invalidRequest("the body is not a JSON object") }
        guard let event = body["event"], case .map(let e) = event else { throw .invalidRequest("event is required") }
        guard e["$type"]?.stringValue == Self.labelEventType else {
            throw .invalidRequest("only \(Self.labelEventType) events are supported")
        }
        guard let subject = body["subject"], case .map(let s) = subject else {
            throw .invalidRequest("subject is required")
        }
        guard let createdBy = body["createdBy"]?.stringValue, DID.isValid(createdBy) else {
            throw .invalidRequest("createdBy must be a DID")
        }
        self.event = event
        self.subject = subject
        self.createdBy = createdBy

        switch s["$type"]?.stringValue {
        case Self.repoRefType:
            guard let text = s["did"]?.stringValue, let did = try? DID(text) else {
                throw .invalidRequest("subject.did must be a DID")
            }
            labelSubject = .account(did)
            cid = nil
        case Self.strongRefType:
            guard let text = s["uri"]?.stringValue, let uri = try? ATURI(text) else {
                throw .invalidRequest("subject.uri must be an at:// URI")
            }
            guard let cid = s["cid"]?.stringValue, CIDString.isValid(cid) else {
                throw .invalidRequest("subject.cid must be a CID")
            }
            labelSubject = .record(uri)
            self.cid = cid
        default:
            throw .invalidRequest("subject must be a \(Self.repoRefType) or a \(Self.strongRefType)")
        }

        create = try Self.values(e["createLabelVals"], field: "createLabelVals")
        negate = try Self.values(e["negateLabelVals"], field: "negateLabelVals")
        guard !create.isEmpty || !negate.isEmpty else {
            throw .invalidRequest("createLabelVals or negateLabelVals must name a label")
        }
        comment = e["comment"]?.stringValue
        if let hours = e["durationInHours"] {
            guard let h = hours.intValue, h > 0 else {
                throw .invalidRequest("durationInHours must be a positive integer")
            }
            durationInHours = h
        } else {
            durationInHours = nil
        }
    }

    static func values(_ value: CBORValue?, field: String) throws(XRPCError) -> [String] {
        guard let value else { return [] }
        guard case .array(let items) = value else { throw .invalidRequest("\(field) must be an array of strings") }
        var out: [String] = []
        for item in items {
            guard let val = item.stringValue, isValidLabelValue(val) else {
                throw .invalidRequest(
                    "\(field): \(item.stringValue.map { "\"\($0)\"" } ?? "an item") is not a label value")
            }
            out.append(val)
        }
        return out
    }

    /// Lowercase letters, digits and `-`, at most 128 bytes; a leading `!` marks the global values
    /// (`!hide`, `!warn`, …).
    static func isValidLabelValue(_ val: String) -> Bool {
        var bytes = val.utf8[...]
        if bytes.first == UInt8(ascii: "!") { bytes = bytes.dropFirst() }
        guard !bytes.isEmpty, val.utf8.count <= 128 else { return false }
        return bytes.allSatisfy { b in
            (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
                || b == UInt8(ascii: "-")
        }
    }

    /// The label changes the event asks for, negations after applications.
    func changes(now: Datetime) -> [LabelChange] {
        let exp = durationInHours.map { Datetime.format(unixMicros: now.unixMicros + $0 * 3_600_000_000) }
        let origin = LabelChange.Origin.manual(actor: createdBy)
        return create.map {
            LabelChange(
                action: .apply, subject: labelSubject, cid: cid, val: $0, exp: exp, origin: origin, reason: comment)
        }
            + negate.map {
                LabelChange(action: .negate, subject: labelSubject, cid: cid, val: $0, origin: origin, reason: comment)
            }
    }

    /// A `tools.ozone.moderation.defs#modEventView` for the response.
    func view(id: Int64, createdAt: String) -> String {
        DataModelJSON.serialize(
            .map([
                "id": .int(id), "event": event, "subject": subject, "subjectBlobCids": .array([]),
                "createdBy": .text(CBORText(createdBy)), "createdAt": .text(CBORText(createdAt)),
            ]))
    }
}
