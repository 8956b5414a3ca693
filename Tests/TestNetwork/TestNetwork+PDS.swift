import Foundation
import Hummingbird
import NIOCore

/// The PDS side of the test network: the XRPC methods `labeler declare` calls, with the real
/// lexicons' shapes and the real errors.
extension TestNetwork {
    static let createSession = "com.atproto.server.createSession"
    static let getRecord = "com.atproto.repo.getRecord"
    static let putRecord = "com.atproto.repo.putRecord"
    static let requestSignature = "com.atproto.identity.requestPlcOperationSignature"
    static let signOperation = "com.atproto.identity.signPlcOperation"
    static let submitOperation = "com.atproto.identity.submitPlcOperation"

    /// The token the PDS "emails" after requestPlcOperationSignature.
    public static let plcToken = "TOKEN-12345"

    static func pds(on router: Router<BasicRequestContext>, shared: Shared) {
        router.post("xrpc/\(createSession)") { request, _ -> Response in
            if let response = try await intercept(createSession, request: request, shared: shared) { return response }
            let input = try await body(request)
            if let response = check("input", of: createSession, input, shared: shared) { return response }
            let fields = input as? [String: Any] ?? [:]
            let identifier = fields["identifier"] as? String ?? ""
            let password = fields["password"] as? String ?? ""
            let account = shared.state.withLock { state -> Account? in
                state.accounts.values.first {
                    ($0.did == identifier || $0.handle == identifier) && $0.password == password
                }
            }
            guard let account else {
                return error("AuthenticationRequired", "Invalid identifier or password", status: .unauthorized)
            }
            let token = "access-\(UUID().uuidString)"
            shared.state.withLock { $0.sessions[token] = account.did }
            return output(
                [
                    "accessJwt": token, "refreshJwt": "refresh-\(UUID().uuidString)", "handle": account.handle,
                    "did": account.did,
                ],
                of: createSession, shared: shared)
        }

        router.get("xrpc/\(getRecord)") { request, _ -> Response in
            if let response = try await intercept(getRecord, request: request, shared: shared) { return response }
            var parameters: [String: Any] = [:]
            for (key, value) in request.uri.queryParameters { parameters[String(key)] = String(value) }
            if let response = check("parameters", of: getRecord, parameters, shared: shared) { return response }
            let repo = parameters["repo"] as? String ?? ""
            let path = "\(parameters["collection"] as? String ?? "")/\(parameters["rkey"] as? String ?? "")"
            let found = shared.state.withLock { state -> (String, Data)? in
                guard let account = state.accounts.values.first(where: { $0.did == repo || $0.handle == repo }),
                    let record = account.records[path]
                else { return nil }
                return (account.did, record)
            }
            guard let (did, record) = found else {
                return error("RecordNotFound", "Could not locate record: at://\(repo)/\(path)", status: .badRequest)
            }
            let value = (try? JSONSerialization.jsonObject(with: record)) ?? [:]
            return output(
                ["uri": "at://\(did)/\(path)", "cid": cid(of: record), "value": value], of: getRecord, shared: shared)
        }

        router.post("xrpc/\(putRecord)") { request, _ -> Response in
            let (did, input): (String, Any?)
            switch try await authorized(putRecord, request, shared: shared) {
            case .answer(let response): return response
            case .proceed(let caller, let body): (did, input) = (caller, body)
            }
            let fields = input as? [String: Any] ?? [:]
            let collection = fields["collection"] as? String ?? ""
            let record = fields["record"] ?? [:]
            let problems = shared.lexicons.checkRecord(record, collection: collection)
            if !problems.isEmpty {
                shared.state.withLock { $0.problems += problems.map { "\(collection): \($0)" } }
                return error("InvalidRecord", problems.joined(separator: "; "), status: .badRequest)
            }
            guard fields["repo"] as? String == did else {
                return error("InvalidRequest", "repo is not the session's account", status: .badRequest)
            }
            let data = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])
            let path = "\(collection)/\(fields["rkey"] as? String ?? "")"
            shared.state.withLock { $0.accounts[did]?.records[path] = data }
            return output(["uri": "at://\(did)/\(path)", "cid": cid(of: data)], of: putRecord, shared: shared)
        }

        router.post("xrpc/\(requestSignature)") { request, _ -> Response in
            if let response = try await intercept(requestSignature, request: request, shared: shared) {
                return response
            }
            guard let did = session(request, shared: shared) else {
                return error("AuthenticationRequired", "Authentication Required", status: .unauthorized)
            }
            shared.state.withLock { $0.accounts[did]?.plcToken = plcToken }
            return Response(status: .ok)
        }

        router.post("xrpc/\(signOperation)") { request, _ -> Response in
            let (did, input): (String, Any?)
            switch try await authorized(signOperation, request, shared: shared) {
            case .answer(let response): return response
            case .proceed(let caller, let body): (did, input) = (caller, body)
            }
            let fields = input as? [String: Any] ?? [:]
            let (token, current) = shared.state.withLock { ($0.accounts[did]?.plcToken, $0.plc[did]) }
            guard let token, fields["token"] as? String == token else {
                return error("InvalidToken", "Token is invalid", status: .badRequest)
            }
            guard var data = current else { return error("InvalidRequest", "not a did:plc", status: .badRequest) }
            // As the PDS does: each field given replaces the previous operation's, whole.
            if let keys = fields["rotationKeys"] as? [String] { data.rotationKeys = keys }
            if let names = fields["alsoKnownAs"] as? [String] { data.alsoKnownAs = names }
            if let methods = fields["verificationMethods"] {
                guard let methods = methods as? [String: String] else {
                    return error(
                        "InvalidRequest", "verificationMethods must map names to did:keys", status: .badRequest)
                }
                data.verificationMethods = methods
            }
            if let services = fields["services"] {
                guard let services = services as? [String: [String: String]] else {
                    return error("InvalidRequest", "services must map names to {type, endpoint}", status: .badRequest)
                }
                var parsed: [String: PLCData.Service] = [:]
                for (name, service) in services {
                    guard let type = service["type"], let endpoint = service["endpoint"] else {
                        return error("InvalidRequest", "service \(name) needs type and endpoint", status: .badRequest)
                    }
                    parsed[name] = .init(type: type, endpoint: endpoint)
                }
                data.services = parsed
            }
            var operation = data.json
            operation["type"] = "plc_operation"
            operation["prev"] = "bafyreigp6shzy6dlcxuowwoxz7u5nemdrkad2my5zwzpwilcnhih7bw6za"
            operation["sig"] = "signed-by-the-test-pds"
            return output(["operation": operation], of: signOperation, shared: shared)
        }

        router.post("xrpc/\(submitOperation)") { request, _ -> Response in
            let (did, input): (String, Any?)
            switch try await authorized(submitOperation, request, shared: shared) {
            case .answer(let response): return response
            case .proceed(let caller, let body): (did, input) = (caller, body)
            }
            guard let operation = (input as? [String: Any])?["operation"] as? [String: Any],
                operation["type"] as? String == "plc_operation", operation["sig"] is String,
                let methods = operation["verificationMethods"] as? [String: String],
                let services = operation["services"] as? [String: [String: String]],
                let rotationKeys = operation["rotationKeys"] as? [String],
                let alsoKnownAs = operation["alsoKnownAs"] as? [String]
            else { return error("InvalidRequest", "not a signed PLC operation", status: .badRequest) }
            let data = PLCData(
                rotationKeys: rotationKeys, verificationMethods: methods, alsoKnownAs: alsoKnownAs,
                services: services.compactMapValues { s in
                    s["type"].flatMap { type in s["endpoint"].map { PLCData.Service(type: type, endpoint: $0) } }
                })
            let raw = try JSONSerialization.data(withJSONObject: operation, options: [.sortedKeys])
            shared.state.withLock { state in
                state.plc[did] = data
                state.plcOperations[did, default: []].append(raw)
                state.accounts[did]?.plcToken = nil
            }
            return Response(status: .ok)
        }
    }

    /// What a method that needs a session does first.
    enum Prelude {
        /// The caller's DID and the request body, which fits the method's input lexicon.
        case proceed(did: String, input: Any?)
        /// The answer already decided: a fault the test asked for, no session, a bad body.
        case answer(Response)
    }

    /// Records the call and applies the test's faults, then requires a session and an input that
    /// fits the lexicon.
    static func authorized(_ method: String, _ request: Request, shared: Shared) async throws -> Prelude {
        if let response = try await intercept(method, request: request, shared: shared) { return .answer(response) }
        guard let did = session(request, shared: shared) else {
            return .answer(error("AuthenticationRequired", "Authentication Required", status: .unauthorized))
        }
        let input = try await body(request)
        if let response = check("input", of: method, input, shared: shared) { return .answer(response) }
        return .proceed(did: did, input: input)
    }

    /// A stand-in CID for a record: the same bytes always give the same string.
    static func cid(of data: Data) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in data {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return "bafyrei" + String(hash, radix: 32).padding(toLength: 52, withPad: "a", startingAt: 0)
    }
}
