import ATCrypto
import ATProto
import Firehose
import Foundation
import Identity
import LabelStore
import Logging

/// `labeler doctor`: checks, one by one, everything that has to hold for the network to show
/// this labeler's labels, and says how to fix what does not. Each check is independent where it
/// can be; one that needs an earlier result that failed says so rather than guessing.
public struct LabelerDoctor: Sendable {
    public struct Check: Sendable, Equatable {
        public let name: String
        public let ok: Bool
        /// What was found; on failure, what is wrong and how to fix it.
        public let message: String

        public init(_ name: String, ok: Bool, _ message: String) {
            self.name = name
            self.ok = ok
            self.message = message
        }
    }

    /// The names, in the order they run.
    public static let names = [
        "config", "signing_key", "did_document", "label_key", "labeler_endpoint", "service_record", "label_values",
        "public_health", "public_stream", "relay",
    ]

    public struct Inputs: Sendable {
        /// The configuration, or why it does not load.
        public var configuration: Result<LabelerConfiguration, LabelerAssembly.Failure>
        public var environment: [String: String]
        /// What the service record should publish (from `labels.yaml` and the rules), or why the
        /// rules or definitions do not load.
        public var policies: Result<ServicePolicies, LabelerAssembly.Failure>

        public init(
            configuration: Result<LabelerConfiguration, LabelerAssembly.Failure>, environment: [String: String],
            policies: Result<ServicePolicies, LabelerAssembly.Failure>
        ) {
            self.configuration = configuration
            self.environment = environment
            self.policies = policies
        }
    }

    public let timeout: Duration
    /// Builds the resolver from the configuration (tests point it at their own network).
    public let makeResolver: @Sendable (LabelerAssembly) throws(LabelerAssembly.Failure) -> IdentityResolver

    public init(
        timeout: Duration = .seconds(10),
        makeResolver: @escaping @Sendable (LabelerAssembly) throws(LabelerAssembly.Failure) -> IdentityResolver = {
            assembly throws(LabelerAssembly.Failure) in try assembly.identityResolver()
        }
    ) {
        self.timeout = timeout
        self.makeResolver = makeResolver
    }

    public func run(_ inputs: Inputs) async -> [Check] {
        var checks: [Check] = []
        let configuration: LabelerConfiguration
        switch inputs.configuration {
        case .failure(let failure):
            checks.append(Check("config", ok: false, "\(failure): fix that line and run doctor again"))
            return checks
                + Self.names.dropFirst().map { Check($0, ok: false, "not checked: the configuration does not load") }
        case .success(let loaded):
            configuration = loaded
            checks.append(Check("config", ok: true, "the configuration loads"))
        }
        let assembly = LabelerAssembly(configuration: configuration, environment: inputs.environment)
        var logger = Logger(label: "labeler.doctor")
        logger.logLevel = .critical

        // signing_key
        let key = signingKeyCheck(assembly, logger: logger, into: &checks)

        // did_document
        var document: DIDDocument? = nil
        do {
            let did = try assembly.labelerDID()
            let made = try makeResolver(assembly)
            do {
                let resolved = try await made.document(for: did, fresh: true)
                document = resolved
                let pds = resolved.serviceEndpoint("atproto_pds").map { ", PDS \($0)" } ?? ""
                checks.append(Check("did_document", ok: true, "\(did) resolves\(pds)"))
            } catch {
                checks.append(
                    Check("did_document", ok: false, "\(did): \(error): check did and identity.plc_url"))
            }
        } catch {
            checks.append(Check("did_document", ok: false, "\(error)"))
        }

        // label_key
        checks.append(labelKeyCheck(document: document, key: key, assembly: assembly))

        // labeler_endpoint
        checks.append(endpointCheck(document: document, publicURL: configuration.publicURL))

        // service_record and label_values
        let published = await publishedRecord(document: document, configuration: configuration)
        checks.append(serviceRecordCheck(published, policies: inputs.policies))
        checks.append(labelValuesCheck(published, policies: inputs.policies))

        // public_health, public_stream
        checks.append(await publicHealthCheck(configuration.publicURL))
        checks.append(await publicStreamCheck(configuration.publicURL))

        // relay
        checks.append(await relayCheck(assembly))
        return checks
    }

    // MARK: Key and document

    /// The key, if it loads, with its check appended.
    func signingKeyCheck(_ assembly: LabelerAssembly, logger: Logger, into checks: inout [Check]) -> SigningKey? {
        let path = assembly.configuration.signingKey
        if let text = assembly.environment[SigningKeyLoader.environmentVariable], !text.isEmpty {
            do {
                let key = try assembly.signingKey(createIfAbsent: false, logger: logger)
                checks.append(
                    Check(
                        "signing_key", ok: true, "from \(SigningKeyLoader.environmentVariable): \(key.publicKey.didKey)"
                    ))
                return key
            } catch {
                checks.append(Check("signing_key", ok: false, "\(error)"))
                return nil
            }
        }
        guard FileManager.default.fileExists(atPath: path) else {
            checks.append(
                Check(
                    "signing_key", ok: false,
                    "\(path) does not exist: `labeler run` creates it, or `labeler keys generate --out \(path)`")
            )
            return nil
        }
        let mode = ((try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int) ?? 0
        let key: SigningKey
        do { key = try assembly.signingKey(createIfAbsent: false, logger: logger) } catch {
            checks.append(Check("signing_key", ok: false, "\(error)"))
            return nil
        }
        guard mode & 0o077 == 0 else {
            checks.append(
                Check(
                    "signing_key", ok: false,
                    "\(path) has mode \(String(mode, radix: 8)): others can read the private key: chmod 600 \(path)"))
            return key
        }
        checks.append(
            Check("signing_key", ok: true, "\(path) (mode \(String(mode, radix: 8))): \(key.publicKey.didKey)"))
        return key
    }

    func labelKeyCheck(document: DIDDocument?, key: SigningKey?, assembly: LabelerAssembly) -> Check {
        guard let document else {
            return Check("label_key", ok: false, "not checked: the DID document did not resolve")
        }
        guard let key else { return Check("label_key", ok: false, "not checked: no signing key") }
        let published: PublicKey
        do { published = try document.key(LabelerDeclaration.labelKeyFragment) } catch {
            return Check("label_key", ok: false, "\(error): run `labeler declare`")
        }
        guard published == key.publicKey else {
            return Check(
                "label_key", ok: false,
                "#atproto_label is \(published.didKey), but labels are signed with \(key.publicKey.didKey): "
                    + "run `labeler declare` (or set signing.key to the published key)")
        }
        // After a rotation, labels signed with the old key fail every check that resolves the
        // document now.
        if FileManager.default.fileExists(atPath: assembly.configuration.storePath),
            let store = try? LabelStore(path: assembly.configuration.storePath),
            let keys = try? store.signingKeys()
        {
            if let ours = keys.first(where: { $0.value == key.publicKey.didKey })?.key {
                if let old = try? store.labelsSigned(byOtherThan: ours, after: 0, limit: 1), !old.isEmpty {
                    return Check(
                        "label_key", ok: false,
                        "#atproto_label is our key, but labels signed with an older key remain: run `labeler keys resign`"
                    )
                }
            } else if !keys.isEmpty {
                return Check(
                    "label_key", ok: false,
                    "#atproto_label is our key, but every stored label is signed with another: run `labeler keys resign`"
                )
            }
            return Check(
                "label_key", ok: true, "#atproto_label is \(key.publicKey.didKey); every stored label is signed with it"
            )
        }
        return Check("label_key", ok: true, "#atproto_label is \(key.publicKey.didKey)")
    }

    func endpointCheck(document: DIDDocument?, publicURL: String) -> Check {
        guard !publicURL.isEmpty else {
            return Check(
                "labeler_endpoint", ok: false,
                "server.public_url is empty: set it to the https origin the network reaches this labeler at")
        }
        guard let document else {
            return Check("labeler_endpoint", ok: false, "not checked: the DID document did not resolve")
        }
        let service = document.service(LabelerDeclaration.labelerServiceFragment)
        guard let service, let endpoint = service.endpoint else {
            return Check(
                "labeler_endpoint", ok: false, "the DID document has no #atproto_labeler: run `labeler declare`")
        }
        if let url = URLComponents(string: endpoint), !(url.path.isEmpty || url.path == "/") {
            return Check(
                "labeler_endpoint", ok: false,
                "#atproto_labeler is \(endpoint), which has a path; clients add /xrpc/… to it: run `labeler declare`")
        }
        guard endpoint == publicURL, service.type == LabelerDeclaration.labelerServiceType else {
            return Check(
                "labeler_endpoint", ok: false,
                "#atproto_labeler is \(endpoint) (\(service.type)), not \(publicURL) (AtprotoLabeler): run `labeler declare`"
            )
        }
        if !publicURL.hasPrefix("https://") {
            let host = URLComponents(string: publicURL)?.host ?? ""
            guard ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host) else {
                return Check(
                    "labeler_endpoint", ok: false,
                    "\(publicURL) is not https: the network only reaches https labelers: put a TLS proxy in front")
            }
            return Check(
                "labeler_endpoint", ok: true,
                "#atproto_labeler is \(endpoint) (plain http on this machine: local testing only)")
        }
        return Check("labeler_endpoint", ok: true, "#atproto_labeler is \(endpoint)")
    }

    // MARK: The service record

    /// The published record, or why it could not be read.
    enum Published {
        case record([String: Any])
        case missing
        case unreadable(String)
    }

    func publishedRecord(document: DIDDocument?, configuration: LabelerConfiguration) async -> Published {
        guard let document else { return .unreadable("not checked: the DID document did not resolve") }
        guard
            let pds = configuration.accountPDSURL.isEmpty
                ? document.serviceEndpoint("atproto_pds") : configuration.accountPDSURL
        else { return .unreadable("the DID document has no #atproto_pds: set account.pds_url") }
        do {
            let found = try await XRPCClient(service: pds, timeout: timeout).getRecord(
                repo: document.id, collection: LabelerDeclaration.collection, rkey: LabelerDeclaration.rkey)
            return found.map { .record($0.value) } ?? .missing
        } catch {
            return .unreadable("reading it from \(pds): \(error)")
        }
    }

    func serviceRecordCheck(_ published: Published, policies: Result<ServicePolicies, LabelerAssembly.Failure>)
        -> Check
    {
        let record: [String: Any]
        switch published {
        case .unreadable(let reason): return Check("service_record", ok: false, reason)
        case .missing:
            return Check("service_record", ok: false, "no app.bsky.labeler.service record: run `labeler declare`")
        case .record(let found): record = found
        }
        guard case .success(let policies) = policies else {
            return Check("service_record", ok: false, "not compared: labels.yaml or the rules do not load")
        }
        let wanted = policies.serviceRecord(createdAt: record["createdAt"] as? String ?? "")
        let diff = LabelerDeclaration.recordDiff(published: record, wanted: wanted)
        guard diff.isEmpty else {
            return Check(
                "service_record", ok: false,
                "the published record differs from labels.yaml in \(diff.count) lines: run `labeler declare --dry-run` to see them, then `labeler declare`"
            )
        }
        return Check("service_record", ok: true, "published and the same as labels.yaml")
    }

    func labelValuesCheck(_ published: Published, policies loading: Result<ServicePolicies, LabelerAssembly.Failure>)
        -> Check
    {
        let policies: ServicePolicies
        switch loading {
        case .failure(let failure): return Check("label_values", ok: false, failure.description)
        case .success(let loaded): policies = loaded
        }
        let malformed = policies.emittedValues.filter { !ServicePolicies.isWellFormed($0) }
        guard malformed.isEmpty else {
            return Check(
                "label_values", ok: false,
                "values clients ignore (lowercase a-z and '-' only, at most 100): \(malformed.joined(separator: ", "))")
        }
        let undefined = policies.emittedValues.filter { !$0.hasPrefix("!") && !policies.labelValues.contains($0) }
        guard undefined.isEmpty else {
            return Check(
                "label_values", ok: false,
                "the rules emit values labels.yaml does not define: \(undefined.joined(separator: ", ")): define them")
        }
        if case .record(let record) = published {
            let declared = (record["policies"] as? [String: Any])?["labelValues"] as? [String] ?? []
            let missing = policies.emittedValues.filter { !declared.contains($0) }
            if !missing.isEmpty {
                return Check(
                    "label_values", ok: false,
                    "the published record does not declare \(missing.joined(separator: ", ")): run `labeler declare`")
            }
        }
        return Check(
            "label_values", ok: true,
            "\(policies.emittedValues.count) values the rules emit, all defined and well formed")
    }

    // MARK: Reaching the labeler and the relay

    func publicHealthCheck(_ publicURL: String) async -> Check {
        guard !publicURL.isEmpty else {
            return Check("public_health", ok: false, "not checked: server.public_url is empty")
        }
        let url = publicURL + "/xrpc/_health"
        do {
            let response = try await HTTPFetcher(timeout: timeout).get(url)
            guard response.status == 200 else {
                return Check(
                    "public_health", ok: false,
                    "\(url): HTTP \(response.status): check the reverse proxy forwards /xrpc/ to the labeler")
            }
            return Check("public_health", ok: true, "\(url) answers")
        } catch {
            return Check("public_health", ok: false, "\(error): is the labeler running, and the proxy in front of it?")
        }
    }

    func publicStreamCheck(_ publicURL: String) async -> Check {
        guard !publicURL.isEmpty else {
            return Check("public_stream", ok: false, "not checked: server.public_url is empty")
        }
        let url =
            (publicURL.hasPrefix("https://") ? "wss://" + publicURL.dropFirst(8) : "ws://" + publicURL.dropFirst(7))
            + "/xrpc/com.atproto.label.subscribeLabels"
        do {
            let endpoint = try WebSocketEndpoint(url)
            try await withDeadline(timeout) {
                try await WebSocketClient.withConnection(to: endpoint) { _ in }
            }
            return Check("public_stream", ok: true, "\(url) opens")
        } catch {
            return Check(
                "public_stream", ok: false,
                "\(url): \(error): the proxy must pass the WebSocket upgrade (Upgrade and Connection headers)")
        }
    }

    func relayCheck(_ assembly: LabelerAssembly) async -> Check {
        let configuration = assembly.configuration
        var logger = Logger(label: "labeler.doctor")
        logger.logLevel = .critical
        let cursorName: CursorName
        let endpoint: WebSocketEndpoint
        do {
            switch configuration.sourceKind {
            case .relay:
                let source = try RelaySource(
                    configuration: .init(url: configuration.sourceURL), decoder: RepoEventDecoder(), logger: logger)
                cursorName = source.cursorName
                endpoint = try WebSocketEndpoint(configuration.sourceURL).with(
                    path: RelaySource.subscribePath, query: [])
            case .jetstream:
                let source = try JetstreamSource(configuration: .init(url: configuration.sourceURL), logger: logger)
                cursorName = source.cursorName
                endpoint = try WebSocketEndpoint(configuration.sourceURL)
            }
        } catch {
            return Check("relay", ok: false, "source.url: \(error)")
        }
        let head: Int64?
        do {
            head = try await withDeadline(timeout) {
                try await WebSocketClient.withConnection(to: endpoint) { session -> Int64? in
                    guard let message = try await session.receive() else { return nil }
                    return Self.position(of: message, kind: configuration.sourceKind)
                }
            }
        } catch {
            return Check("relay", ok: false, "\(configuration.sourceURL): \(error): check source.url and the network")
        }
        var stored: Int64? = nil
        if FileManager.default.fileExists(atPath: configuration.storePath),
            let store = try? LabelStore(path: configuration.storePath)
        {
            stored = try? store.cursor(for: cursorName)
        }
        guard let head else { return Check("relay", ok: true, "\(configuration.sourceURL) is reachable") }
        guard let stored else {
            return Check(
                "relay", ok: true, "\(configuration.sourceURL) is reachable (at \(head)); no cursor stored yet")
        }
        switch configuration.sourceKind {
        case .relay:
            return Check(
                "relay", ok: true,
                "\(configuration.sourceURL) is reachable; the stored cursor is \(max(0, head - stored)) events behind (\(stored) of \(head))"
            )
        case .jetstream:
            let seconds = Double(max(0, head - stored)) / 1e6
            return Check(
                "relay", ok: true,
                "\(configuration.sourceURL) is reachable; the stored cursor is \(String(format: "%.1f", seconds)) s behind"
            )
        }
    }

    /// The seq of a relay frame, or the `time_us` of a Jetstream event.
    static func position(of message: WebSocketMessage, kind: LabelerConfiguration.SourceKind) -> Int64? {
        switch (message, kind) {
        case (.binary(let bytes), .relay):
            return (try? RepoEventDecoder(decodesRecords: { _ in false }).decode(bytes))?.seq
        case (.text(let text), .jetstream):
            let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
            return (object?["time_us"] as? NSNumber)?.int64Value
        default:
            return nil
        }
    }
}
