import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// One in-process server playing the parts of the network the labeler talks to when it goes live:
/// a PLC directory (under `/plc`), web hosts serving `/.well-known/` files (under `/web/{host}`),
/// and a PDS (`/xrpc/…`) with accounts, records and PLC operations.
///
/// Every request and response body, and every record written, is checked against the lexicons in
/// `Tests/Fixtures/lexicons`; a request of the wrong shape gets the 400 a PDS would send and is
/// kept in ``problems``, so a test can fail on it.
public final class TestNetwork: Sendable {
    public struct PLCData: Sendable, Equatable {
        public var rotationKeys: [String]
        /// name (without `#`) → did:key
        public var verificationMethods: [String: String]
        public var alsoKnownAs: [String]
        /// name (without `#`) → service
        public var services: [String: Service]

        public struct Service: Sendable, Equatable {
            public var type: String
            public var endpoint: String
            public init(type: String, endpoint: String) {
                self.type = type
                self.endpoint = endpoint
            }
        }

        public init(
            rotationKeys: [String] = ["did:key:zQ3shhCGUqDKjStzuDxPkTxN6ujddP4RkEKJJouJGRRkaLGbg"],
            verificationMethods: [String: String], alsoKnownAs: [String], services: [String: Service]
        ) {
            self.rotationKeys = rotationKeys
            self.verificationMethods = verificationMethods
            self.alsoKnownAs = alsoKnownAs
            self.services = services
        }

        var json: [String: Any] {
            [
                "rotationKeys": rotationKeys, "verificationMethods": verificationMethods, "alsoKnownAs": alsoKnownAs,
                "services": services.mapValues { ["type": $0.type, "endpoint": $0.endpoint] },
            ]
        }

        /// The DID document the PLC directory derives from the data.
        func document(did: String) -> [String: Any] {
            [
                "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
                "id": did, "alsoKnownAs": alsoKnownAs,
                "verificationMethod": verificationMethods.sorted { $0.key < $1.key }.map { name, key in
                    [
                        "id": "\(did)#\(name)", "type": "Multikey", "controller": did,
                        "publicKeyMultibase": String(key.dropFirst("did:key:".count)),
                    ]
                },
                "service": services.sorted { $0.key < $1.key }.map { name, service in
                    ["id": "#\(name)", "type": service.type, "serviceEndpoint": service.endpoint]
                },
            ]
        }
    }

    public struct Account: Sendable {
        public var did: String
        public var handle: String
        public var password: String
        /// `collection/rkey` → record JSON
        public var records: [String: Data] = [:]
        public var plcToken: String?

        public init(did: String, handle: String, password: String) {
            self.did = did
            self.handle = handle
            self.password = password
        }
    }

    public struct State: Sendable {
        public var plc: [String: PLCData] = [:]
        /// Operations submitted to the directory, in order, per DID.
        public var plcOperations: [String: [Data]] = [:]
        public var webDocuments: [String: Data] = [:]
        public var atprotoDID: [String: String] = [:]
        public var accounts: [String: Account] = [:]
        var sessions: [String: String] = [:]
        /// Methods (NSIDs) or paths that answer with this status and an error body.
        public var failing: [String: Int] = [:]
        /// Methods or paths that never answer.
        public var hanging: Set<String> = []
        /// DIDs whose PLC documents are held back until the test removes them: a slow directory
        /// for some accounts only.
        public var heldDIDs: Set<String> = []
        /// Every request, as `METHOD path`.
        public var calls: [String] = []
        /// Bodies that did not fit their lexicon.
        public var problems: [String] = []
        /// Bodies POSTed to `/hooks/{name}` (a webhook receiver), per name, in order. A name in
        /// `failing` answers with that status and its body is not kept.
        public var hooks: [String: [Data]] = [:]
    }

    final class Shared: Sendable {
        let state = Mutex(State())
        let lexicons: LexiconValidator
        init(lexicons: LexiconValidator) { self.lexicons = lexicons }
    }

    let shared: Shared
    private let running = Mutex<(runner: ServiceRunner, port: Int)?>(nil)

    public init() throws {
        shared = Shared(lexicons: try LexiconValidator.fixtures())
    }

    /// Reads or changes what the network holds.
    public func withState<T>(_ body: (inout State) -> T) -> T { shared.state.withLock { body(&$0) } }

    public var problems: [String] { withState { $0.problems } }
    public var calls: [String] { withState { $0.calls } }

    /// Starts serving on 127.0.0.1 and returns the base URL (`http://127.0.0.1:port`).
    @discardableResult
    public func start() async throws -> String {
        if let port = running.withLock({ $0?.port }) { return "http://127.0.0.1:\(port)" }
        let router = Router()
        Self.routes(on: router, shared: shared)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        var logger = Logger(label: "test-network")
        logger.logLevel = .critical
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) }, logger: logger)
        // Stopped gracefully, never by cancellation (see `ServiceRunner`).
        let runner = ServiceRunner([app], logger: logger)
        for await port in ports {
            running.withLock { $0 = (runner, port) }
            return "http://127.0.0.1:\(port)"
        }
        throw CancellationError()
    }

    public func stop() async {
        guard
            let runner = running.withLock({ value -> ServiceRunner? in
                defer { value = nil }
                return value?.runner
            })
        else { return }
        await runner.stop()
    }

    // MARK: Routes

    static func json(_ object: Any, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return Response(
            status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: data))
        )
    }

    static func error(_ name: String, _ message: String, status: HTTPResponse.Status) -> Response {
        json(["error": name, "message": message], status: status)
    }

    /// Records the call, then hangs or fails when the test asked for it; nil to go on.
    static func intercept(_ name: String, request: Request, shared: Shared) async throws -> Response? {
        let (hang, status) = shared.state.withLock { state -> (Bool, Int?) in
            state.calls.append("\(request.method) \(request.uri.path)")
            return (state.hanging.contains(name), state.failing[name])
        }
        if hang {
            // A server that accepted the request and never answers: the client's deadline ends it.
            // The network's own shutdown ends the wait (it would otherwise hold the shutdown).
            try await gracefulShutdown()
        }
        if let status {
            return error("InternalServerError", "the test made \(name) fail", status: .init(code: status))
        }
        return nil
    }

    static func body(_ request: Request) async throws -> Any? {
        var request = request
        let buffer = try await request.collectBody(upTo: 1 << 20)
        guard buffer.readableBytes > 0 else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView))
    }

    /// Checks `value` against the method's lexicon; the problems become one 400.
    static func check(_ part: String, of method: String, _ value: Any?, shared: Shared) -> Response? {
        let problems = shared.lexicons.check(part, of: method, value)
        guard !problems.isEmpty else { return nil }
        shared.state.withLock { $0.problems += problems.map { "\(method) \(part): \($0)" } }
        return error("InvalidRequest", problems.joined(separator: "; "), status: .badRequest)
    }

    /// Answers with `object` after checking it against the method's output lexicon, so the fake
    /// cannot drift from the real shape.
    static func output(_ object: [String: Any], of method: String, shared: Shared) -> Response {
        let problems = shared.lexicons.check("output", of: method, object)
        if !problems.isEmpty { shared.state.withLock { $0.problems += problems.map { "\(method) output: \($0)" } } }
        return json(object)
    }

    static func session(_ request: Request, shared: Shared) -> String? {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else { return nil }
        let token = String(header.dropFirst("Bearer ".count))
        return shared.state.withLock { $0.sessions[token] }
    }

    static func routes(on router: Router<BasicRequestContext>, shared: Shared) {
        router.post("hooks/:name") { request, context -> Response in
            let name = try context.parameters.require("name")
            if let response = try await intercept("hooks/\(name)", request: request, shared: shared) { return response }
            var request = request
            let buffer = try await request.collectBody(upTo: 1 << 20)
            shared.state.withLock { $0.hooks[name, default: []].append(Data(buffer.readableBytesView)) }
            return Response(status: .ok)
        }
        router.get("plc/:did") { request, context -> Response in
            let did = try context.parameters.require("did")
            if let response = try await intercept("plc", request: request, shared: shared) { return response }
            // The server's own wait, not a test's: it answers once the test lets the DID go.
            while shared.state.withLock({ $0.heldDIDs.contains(did) }) { try await Task.sleep(for: .milliseconds(2)) }
            guard let data = shared.state.withLock({ $0.plc[did] }) else {
                return error("NotFound", "DID not registered: \(did)", status: .notFound)
            }
            return json(data.document(did: did))
        }
        router.get("plc/:did/data") { request, context -> Response in
            let did = try context.parameters.require("did")
            if let response = try await intercept("plc", request: request, shared: shared) { return response }
            guard let data = shared.state.withLock({ $0.plc[did] }) else {
                return error("NotFound", "DID not registered: \(did)", status: .notFound)
            }
            var object = data.json
            object["did"] = did
            return json(object)
        }
        router.get("web/:host/.well-known/did.json") { request, context -> Response in
            let host = try context.parameters.require("host")
            if let response = try await intercept("web", request: request, shared: shared) { return response }
            guard let data = shared.state.withLock({ $0.webDocuments[host] }) else {
                return error("NotFound", "no document", status: .notFound)
            }
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(data: data)))
        }
        router.get("web/:host/.well-known/atproto-did") { request, context -> Response in
            let host = try context.parameters.require("host")
            if let response = try await intercept("web", request: request, shared: shared) { return response }
            guard let did = shared.state.withLock({ $0.atprotoDID[host] }) else {
                return Response(status: .notFound)
            }
            return Response(
                status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: did)))
        }
        // A host that answers health checks but is no labeler (no WebSocket upgrade).
        router.get("xrpc/_health") { _, _ -> Response in json(["version": "test-network"]) }
        pds(on: router, shared: shared)
    }
}
