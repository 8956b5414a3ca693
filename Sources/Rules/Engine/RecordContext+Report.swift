import ATProto

extension RecordContext {
    /// A report, evaluated by the rules on `on: [report]`. `subject` is the reported account's DID
    /// or the reported record's `at://` URI (with `cid`, the version the reporter saw): a rule's
    /// label goes on that subject (`subject: account`: on the account it belongs to). `time` is
    /// when the report was filed, so evaluating it again gives the same expiry and windows.
    public static func report(_ facts: ReportFacts, subject: String, cid: String?, time: Int64) -> RecordContext {
        var did = subject
        var collection = ""
        var rkey = ""
        if subject.hasPrefix("at://") {
            // The intake accepts only record URIs; anything else is kept whole, so that a label
            // on it fails as an invalid subject instead of landing on the account.
            if let uri = try? ATURI(subject), let owner = uri.did, let path = uri.path {
                did = owner.rawValue
                collection = path.collection.rawValue
                rkey = path.rkey.rawValue
            } else {
                collection = "?"
            }
        }
        var context = RecordContext(
            did: did, collection: collection, rkey: rkey, action: .create, cid: cid, previousCID: cid, record: nil,
            time: time)
        context.report = facts
        return context
    }
}
