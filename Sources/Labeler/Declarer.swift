import ATCrypto
import ATProto
import Foundation
import Identity

/// `labeler declare`: puts the labeler on the network.
///
/// Everything is read before anything is written (the DID document, the published record, the
/// PLC directory's data), so a PDS or directory that is down stops it with nothing half-done.
/// Then, only where something differs: the `app.bsky.labeler.service` record (compare-and-swap
/// on the CID read), then the DID document (did:plc through the PDS and the emailed token;
/// did:web gets the fragment to publish). A document that is already right needs no token and no
/// PLC call.
public struct Declarer: Sendable {
    public struct Failure: Error, CustomStringConvertible, Sendable, Equatable {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    public struct Inputs: Sendable {
        public var did: DID
        public var publicURL: String
        public var labelKey: PublicKey
        public var labelValues: [String]
        /// `labelValueDefinition` objects, as JSON.
        public var definitions: Data
        /// `account.identifier`; empty: the DID.
        public var identifier: String
        /// `account.pds_url`; empty: the DID document's `#atproto_pds`.
        public var pdsURL: String
        /// The app password; needed only when something is written.
        public var password: String?
        public var createdAt: String

        public init(
            did: DID, publicURL: String, labelKey: PublicKey, labelValues: [String], definitions: Data,
            identifier: String = "", pdsURL: String = "", password: String?, createdAt: String
        ) {
            self.did = did
            self.publicURL = publicURL
            self.labelKey = labelKey
            self.labelValues = labelValues
            self.definitions = definitions
            self.identifier = identifier
            self.pdsURL = pdsURL
            self.password = password
            self.createdAt = createdAt
        }
    }

    /// What was found and done, for the terminal and for `--json`.
    public struct Report: Sendable, Equatable {
        public var did = ""
        public var pds = ""
        public var dryRun = false
        public var recordDiff: [String] = []
        public var recordWritten = false
        public var documentChanges: [String] = []
        public var documentUpdated = false
        /// For did:web: the document entries to publish by hand (JSON).
        public var didWebFragment: String?

        public var json: [String: Any] {
            var document: [String: Any] = [
                "changed": !documentChanges.isEmpty, "changes": documentChanges, "updated": documentUpdated,
            ]
            if let didWebFragment {
                document["publish"] = (try? JSONSerialization.jsonObject(with: Data(didWebFragment.utf8))) ?? [:]
            }
            return [
                "did": did, "pds": pds, "dry_run": dryRun,
                "service_record": ["changed": !recordDiff.isEmpty, "diff": recordDiff, "written": recordWritten],
                "did_document": document,
            ]
        }
    }

    public let resolver: IdentityResolver
    public let timeout: Duration
    /// Says what is happening (one line each), as it happens.
    public let say: @Sendable (String) -> Void
    /// The token the PDS emailed, asked for only when a PLC update is needed.
    public let token: @Sendable () async -> String?

    public init(
        resolver: IdentityResolver, timeout: Duration = .seconds(30), say: @escaping @Sendable (String) -> Void,
        token: @escaping @Sendable () async -> String?
    ) {
        self.resolver = resolver
        self.timeout = timeout
        self.say = say
        self.token = token
    }

    public func run(_ inputs: Inputs, dryRun: Bool) async throws(Failure) -> Report {
        var report = Report()
        report.did = inputs.did.rawValue
        report.dryRun = dryRun
        guard !inputs.publicURL.isEmpty else {
            throw Failure("server.public_url is empty: set it to the https origin the network reaches this labeler at")
        }
        let definitions: [[String: Any]]
        do {
            guard let parsed = try JSONSerialization.jsonObject(with: inputs.definitions) as? [[String: Any]] else {
                throw Failure("label definitions are not a JSON list")
            }
            definitions = parsed
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure("label definitions are not JSON")
        }

        // Read everything first.
        let document: DIDDocument
        do { document = try await resolver.document(for: inputs.did, fresh: true) } catch {
            throw Failure("\(inputs.did): cannot resolve the DID document: \(error)")
        }
        let pds = inputs.pdsURL.isEmpty ? document.serviceEndpoint("atproto_pds") : inputs.pdsURL
        guard let pds else {
            throw Failure("\(inputs.did) has no #atproto_pds in its DID document: set account.pds_url")
        }
        report.pds = pds
        let client = XRPCClient(service: pds, timeout: timeout)
        let published: (value: [String: Any], cid: String)?
        do {
            published = try await client.getRecord(
                repo: inputs.did, collection: LabelerDeclaration.collection, rkey: LabelerDeclaration.rkey)
        } catch {
            throw Failure("reading \(LabelerDeclaration.collection)/self from \(pds): \(error)")
        }
        let createdAt = published?.value["createdAt"] as? String ?? inputs.createdAt
        let wanted = LabelerDeclaration.serviceRecord(
            labelValues: inputs.labelValues, definitions: definitions, createdAt: createdAt)
        report.recordDiff = LabelerDeclaration.recordDiff(published: published?.value, wanted: wanted)

        let state = LabelerDeclaration.documentState(document, key: inputs.labelKey, publicURL: inputs.publicURL)
        report.documentChanges = state.changes
        var plcChanges: [String: Any]? = nil
        if !state.isRight {
            switch inputs.did.method {
            case "plc":
                do {
                    let data = try await resolver.plcData(for: inputs.did)
                    plcChanges = LabelerDeclaration.plcChanges(
                        data: data, key: inputs.labelKey, publicURL: inputs.publicURL)
                } catch {
                    throw Failure("reading \(inputs.did) from the PLC directory: \(error)")
                }
            default:
                let fragment = LabelerDeclaration.didWebFragment(
                    did: inputs.did, key: inputs.labelKey, publicURL: inputs.publicURL)
                report.didWebFragment = LabelerDeclaration.lines(of: fragment).joined(separator: "\n")
            }
        }

        if report.recordDiff.isEmpty {
            say("service record: up to date")
        } else {
            say("service record \(LabelerDeclaration.collection)/self: \(published == nil ? "new" : "changes"):")
            for line in report.recordDiff { say("  " + line) }
        }
        if state.isRight {
            say("DID document: #atproto_label and #atproto_labeler are right")
        } else {
            say("DID document: \(state.changes.joined(separator: "; "))")
        }
        if dryRun { return report }
        guard !report.recordDiff.isEmpty || plcChanges != nil else {
            if let fragment = report.didWebFragment {
                say("did:web: add these entries to https://\(inputs.did.identifier)/.well-known/did.json:\n\(fragment)")
            }
            return report
        }

        // Then write, only what differs.
        guard let password = inputs.password, !password.isEmpty else {
            throw Failure(
                "set \(LabelerConfiguration.accountPasswordVariable) to an app password of the labeler account to write"
            )
        }
        let session: XRPCClient.Session
        do {
            session = try await client.createSession(
                identifier: inputs.identifier.isEmpty ? inputs.did.rawValue : inputs.identifier, password: password)
        } catch {
            throw Failure("logging in to \(pds): \(error)")
        }
        guard session.did == inputs.did else {
            throw Failure(
                "logged in as \(session.did), but the labeler's did is \(inputs.did): check account.identifier")
        }
        if !report.recordDiff.isEmpty {
            do {
                try await client.putRecord(
                    session: session, collection: LabelerDeclaration.collection, rkey: LabelerDeclaration.rkey,
                    record: wanted, swapRecord: published?.cid)
            } catch {
                throw Failure("writing the service record: \(error)")
            }
            report.recordWritten = true
            say("service record written")
        }
        if let plcChanges {
            do { try await client.requestPLCOperationSignature(session: session) } catch {
                throw Failure("asking for a PLC signature token: \(error)")
            }
            say("the PDS has emailed the account a token to confirm the DID document change")
            guard let token = await token(), !token.isEmpty else {
                throw Failure("the DID document change needs the emailed token: run again with --token TOKEN")
            }
            let operation: [String: Any]
            do {
                operation = try await client.signPLCOperation(session: session, token: token, changes: plcChanges)
            } catch {
                throw Failure("signing the PLC operation: \(error)")
            }
            do { try await client.submitPLCOperation(session: session, operation: operation) } catch {
                throw Failure("submitting the PLC operation: \(error)")
            }
            let after: DIDDocument
            do { after = try await resolver.document(for: inputs.did, fresh: true) } catch {
                throw Failure("the PLC operation was submitted, but the DID no longer resolves: \(error)")
            }
            guard LabelerDeclaration.documentState(after, key: inputs.labelKey, publicURL: inputs.publicURL).isRight
            else {
                throw Failure(
                    "the PLC operation was submitted, but the DID document does not show it yet: run labeler doctor")
            }
            report.documentUpdated = true
            say("DID document updated")
        } else if let fragment = report.didWebFragment {
            say("did:web: add these entries to https://\(inputs.did.identifier)/.well-known/did.json:\n\(fragment)")
        }
        return report
    }
}
