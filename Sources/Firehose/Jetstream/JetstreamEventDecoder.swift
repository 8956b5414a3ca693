import ATProto

/// Turns one Jetstream v1 JSON event into the same `RepoEvent` a relay frame gives, with
/// `time_us` as the seq (Jetstream's cursor). Jetstream carries no CAR and no signatures, so
/// there is nothing to verify: records arrive as data-model JSON and are converted as they are.
public struct JetstreamEventDecoder: Sendable {
    public struct Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        public let reason: String
        public var description: String { "Jetstream event: \(reason)" }
    }

    public init() {}

    public func decode(_ json: String) throws(Error) -> RepoEvent {
        let value: CBORValue
        do { value = try DataModelJSON.parseObject(json) } catch { throw Error(reason: error.description) }
        guard let text = value["did"]?.stringValue, let did = try? DID(text) else {
            throw Error(reason: "missing or invalid 'did'")
        }
        guard let timeUS = value["time_us"]?.intValue, timeUS > 0 else {
            throw Error(reason: "missing or invalid 'time_us'")
        }
        let time = Datetime.format(unixMicros: timeUS)
        switch value["kind"]?.stringValue {
        case "commit":
            guard let commit = value["commit"] else { throw Error(reason: "commit event without 'commit'") }
            guard let operation = commit["operation"]?.stringValue, let action = RepoOp.Action(rawValue: operation)
            else {
                throw Error(reason: "commit has no known 'operation'")
            }
            guard let collection = commit["collection"]?.stringValue, NSID.isValid(collection) else {
                throw Error(reason: "commit has no valid 'collection'")
            }
            guard let rkey = commit["rkey"]?.stringValue, RecordKey.isValid(rkey) else {
                throw Error(reason: "commit has no valid 'rkey'")
            }
            var cid: CID? = nil
            if let text = commit["cid"]?.stringValue {
                do { cid = try CID(string: text) } catch { throw Error(reason: "commit 'cid': \(error)") }
            }
            let record = action == .delete ? nil : commit["record"]
            if action != .delete && record?.mapValue == nil {
                throw Error(reason: "\(operation) without a record object")
            }
            let op = RepoOp(action: action, collection: collection, rkey: rkey, cid: cid, record: record)
            return .commit(
                CommitEvent(
                    seq: timeUS, repo: did, rev: commit["rev"]?.stringValue ?? "", since: nil, commit: nil,
                    prevData: nil,
                    time: time, ops: [op]))
        case "identity":
            let body = value["identity"]
            return .identity(
                IdentityEvent(
                    seq: timeUS, did: did, time: body?["time"]?.stringValue ?? time,
                    handle: body?["handle"]?.stringValue))
        case "account":
            guard let body = value["account"], let active = body["active"]?.boolValue else {
                throw Error(reason: "account event without 'account.active'")
            }
            return .account(
                AccountEvent(
                    seq: timeUS, did: did, time: body["time"]?.stringValue ?? time,
                    active: active,
                    status: body["status"]?.stringValue))
        case let kind?:
            return .unknown(type: kind)
        case nil:
            throw Error(reason: "missing 'kind'")
        }
    }
}
