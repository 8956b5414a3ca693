import ATProto
import LabelStore

/// What `com.atproto.moderation.createReport` accepts: the reason types, subject types and record
/// collections this labeler declares, and the service-auth check of the caller.
public struct ReportIntake: Sendable {
    /// Checks a service-auth token for `method`; returns the issuer's DID, or throws an error whose
    /// description is the one-line reason the caller gets with its 401. Passed in by the wiring, so
    /// this module does not resolve identities itself.
    public typealias Authenticate = @Sendable (_ token: String, _ method: String) async throws -> String

    /// Every reason type of `com.atproto.moderation.defs`: what is accepted when nothing is configured.
    public static let defaultReasonTypes = ReportReasonType.moderationDefs

    /// Every reason type the lexicons know (`com.atproto.moderation.defs` and
    /// `tools.ozone.report.defs`); the configuration may only name these.
    public static let knownReasonTypes = Set(ReportReasonType.all)

    /// The subject types: `account` (`com.atproto.admin.defs#repoRef`) and `record`
    /// (`com.atproto.repo.strongRef`).
    public static let subjectTypes = ["account", "record"]

    /// The lexicon's limit on `reason`, in bytes.
    public static let maximumReasonBytes = 20_000
    /// A body larger than this is refused with 413 before it is parsed: the largest reason,
    /// escaped, with room for the rest.
    public static let maximumBodyBytes = 128 * 1024

    public var reasonTypes: Set<String>
    public var subjectTypes: Set<String>
    /// Empty: records of every collection.
    public var subjectCollections: Set<String>
    public var authenticate: Authenticate
    /// The abuse limits; their counts are shared by every copy of this value.
    public var limits: ReportLimits
    /// Called after a new report is stored (not for a repeat of one already there): the rules on
    /// reports look at it.
    public var filed: (@Sendable () -> Void)?

    public init(
        reasonTypes: [String] = ReportIntake.defaultReasonTypes, subjectTypes: [String] = ReportIntake.subjectTypes,
        subjectCollections: [String] = [], limits: ReportLimits = ReportLimits(),
        filed: (@Sendable () -> Void)? = nil, authenticate: @escaping Authenticate
    ) {
        self.filed = filed
        self.reasonTypes = Set(reasonTypes)
        self.subjectTypes = Set(subjectTypes)
        self.subjectCollections = Set(subjectCollections)
        self.limits = limits
        self.authenticate = authenticate
    }
}

/// A createReport body, checked against the lexicon and against what the labeler accepts.
struct CreateReportRequest {
    var reasonType: String
    var reason: String?
    var subject: ReportSubject

    init(json: String, intake: ReportIntake) throws(XRPCError) {
        let body: CBORValue
        do { body = try DataModelJSON.parseObject(json) } catch {
            throw .invalidRequest("The body is not a JSON object: \(error)")
        }
        guard let reasonType = body["reasonType"]?.stringValue else {
            throw .invalidRequest("reasonType is required and must be a string")
        }
        guard ReportIntake.knownReasonTypes.contains(reasonType) else {
            throw .invalidRequest("Unknown reasonType \(reasonType)")
        }
        guard intake.reasonTypes.contains(reasonType) else {
            throw .invalidRequest("This labeler does not take reports of type \(reasonType)")
        }
        if let value = body["reason"], !value.isNull {
            guard let reason = value.stringValue else { throw .invalidRequest("reason must be a string") }
            guard reason.utf8.count <= ReportIntake.maximumReasonBytes else {
                throw XRPCError(
                    status: .contentTooLarge, error: "InvalidRequest",
                    message: "reason is \(reason.utf8.count) bytes; at most \(ReportIntake.maximumReasonBytes)")
            }
            self.reason = reason
        }
        guard let subject = body["subject"], subject.mapValue != nil else {
            throw .invalidRequest("subject is required and must be an object")
        }
        switch subject["$type"]?.stringValue {
        case "com.atproto.admin.defs#repoRef":
            guard let did = subject["did"]?.stringValue, DID.isValid(did) else {
                throw .invalidRequest("subject.did must be a DID")
            }
            self.subject = .account(did: did)
        case "com.atproto.repo.strongRef":
            guard let uriText = subject["uri"]?.stringValue, let uri = try? ATURI(uriText), uri.did != nil,
                let collection = uri.collection, uri.rkey != nil
            else {
                throw .invalidRequest("subject.uri must be the at:// URI of a record (at://did/collection/rkey)")
            }
            guard let cid = subject["cid"]?.stringValue, CIDString.isValid(cid) else {
                throw .invalidRequest("subject.cid must be a CID")
            }
            guard intake.subjectCollections.isEmpty || intake.subjectCollections.contains(collection.rawValue) else {
                throw .invalidRequest("This labeler does not take reports of \(collection.rawValue) records")
            }
            self.subject = .record(uri: uriText, cid: cid)
        case let other:
            throw .invalidRequest(
                "subject.$type must be com.atproto.admin.defs#repoRef or com.atproto.repo.strongRef, not \(other ?? "missing")"
            )
        }
        guard intake.subjectTypes.contains(self.subject.type) else {
            throw .invalidRequest("This labeler does not take reports of \(self.subject.type)s")
        }
        self.reasonType = reasonType
    }

    /// The lexicon's output for a stored report.
    static func view(_ report: StoredReport) -> String {
        var json = #"{"id":"# + String(report.id) + #","reasonType":"# + DataModelJSON.quote(report.reasonType)
        if let reason = report.reason { json += #","reason":"# + DataModelJSON.quote(reason) }
        json += #","subject":"# + report.subject.json
        json += #","reportedBy":"# + DataModelJSON.quote(report.reportedBy)
        json += #","createdAt":"# + DataModelJSON.quote(report.createdAt) + "}"
        return json
    }
}
