import ATProto
import Foundation

/// An error answer from an XRPC method: the `{"error", "message"}` body and the status.
public struct XRPCError: Error, Equatable, Sendable, CustomStringConvertible {
    public let method: String
    public let status: Int
    public let error: String
    public let message: String

    public var description: String {
        let detail = message.isEmpty ? error : "\(error): \(message)"
        return "\(method): \(detail) (HTTP \(status))"
    }
}

/// The calls to an account's PDS that publish a labeler: log in, read and write its records, and
/// have it sign a PLC operation. JSON in and out, every failure one line naming the method.
public struct XRPCClient: Sendable {
    /// The PDS, e.g. `https://pds.example.com` (no trailing slash needed).
    public let service: String
    let fetcher: HTTPFetcher

    public init(service: String, timeout: Duration = .seconds(30)) {
        self.service = service.hasSuffix("/") ? String(service.dropLast()) : service
        fetcher = HTTPFetcher(timeout: timeout)
    }

    /// A logged-in session (`com.atproto.server.createSession`).
    public struct Session: Sendable, Equatable {
        public let did: DID
        public let handle: String
        public let accessJwt: String
    }

    /// A transport or protocol failure, or an XRPC error answer.
    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        case transport(IdentityError)
        case xrpc(XRPCError)
        case badAnswer(method: String, reason: String)

        public var description: String {
            switch self {
            case .transport(let error): "\(error)"
            case .xrpc(let error): "\(error)"
            case .badAnswer(let method, let reason): "\(method): unexpected answer: \(reason)"
            }
        }
    }

    func url(_ method: String, query: [(String, String)] = []) -> String {
        var components = URLComponents(string: "\(service)/xrpc/\(method)")
        if !query.isEmpty { components?.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) } }
        return components?.string ?? "\(service)/xrpc/\(method)"
    }

    /// Sends a procedure (POST with a JSON body) or a query (GET), returns the JSON object answered.
    func call(
        _ method: String, input: [String: Any]? = nil, query: [(String, String)] = [], session: Session? = nil,
        post: Bool
    ) async throws(Failure) -> [String: Any] {
        let headers = session.map { [("Authorization", "Bearer \($0.accessJwt)")] } ?? []
        let response: HTTPFetcher.Response
        do {
            if post {
                let body: Data
                do { body = try JSONSerialization.data(withJSONObject: input ?? [:], options: [.sortedKeys]) } catch {
                    throw Failure.badAnswer(method: method, reason: "input is not JSON")
                }
                response = try await fetcher.post(url(method), json: body, headers: headers)
            } else {
                response = try await fetcher.get(url(method, query: query), headers: headers)
            }
        } catch let failure as Failure {
            throw failure
        } catch let error as IdentityError {
            throw Failure.transport(error)
        } catch {
            throw Failure.badAnswer(method: method, reason: "\(error)")
        }
        let object = response.body.isEmpty ? nil : (try? JSONSerialization.jsonObject(with: response.body))
        guard (200..<300).contains(response.status) else {
            let fields = object as? [String: Any]
            throw Failure.xrpc(
                XRPCError(
                    method: method, status: response.status,
                    error: fields?["error"] as? String ?? "HTTP \(response.status)",
                    message: fields?["message"] as? String ?? ""))
        }
        if response.body.isEmpty { return [:] }
        guard let fields = object as? [String: Any] else {
            throw Failure.badAnswer(method: method, reason: "not a JSON object")
        }
        return fields
    }

    public func createSession(identifier: String, password: String) async throws(Failure) -> Session {
        let method = "com.atproto.server.createSession"
        let answer = try await call(method, input: ["identifier": identifier, "password": password], post: true)
        guard let didText = answer["did"] as? String, let did = try? DID(didText),
            let access = answer["accessJwt"] as? String
        else { throw Failure.badAnswer(method: method, reason: "no did or accessJwt") }
        return Session(did: did, handle: answer["handle"] as? String ?? "", accessJwt: access)
    }

    /// A record and its CID; nil when the PDS says `RecordNotFound`.
    public func getRecord(repo: DID, collection: String, rkey: String) async throws(Failure)
        -> (value: [String: Any], cid: String)?
    {
        let method = "com.atproto.repo.getRecord"
        let answer: [String: Any]
        do {
            answer = try await call(
                method, query: [("repo", repo.rawValue), ("collection", collection), ("rkey", rkey)], post: false)
        } catch .xrpc(let error) where error.error == "RecordNotFound" {
            return nil
        }
        guard let value = answer["value"] as? [String: Any], let cid = answer["cid"] as? String else {
            throw Failure.badAnswer(method: method, reason: "no value or cid")
        }
        return (value, cid)
    }

    /// Creates or replaces a record; `swapRecord` makes the write fail if the record changed since
    /// it was read (or, with nil after a read that found none, writes regardless).
    @discardableResult
    public func putRecord(
        session: Session, collection: String, rkey: String, record: [String: Any], swapRecord: String?
    ) async throws(Failure) -> String {
        let method = "com.atproto.repo.putRecord"
        var input: [String: Any] = [
            "repo": session.did.rawValue, "collection": collection, "rkey": rkey, "record": record,
        ]
        if let swapRecord { input["swapRecord"] = swapRecord }
        let answer = try await call(method, input: input, session: session, post: true)
        guard let cid = answer["cid"] as? String else { throw Failure.badAnswer(method: method, reason: "no cid") }
        return cid
    }

    /// Asks the PDS to email the account a token for ``signPLCOperation(session:token:changes:)``.
    public func requestPLCOperationSignature(session: Session) async throws(Failure) {
        _ = try await call("com.atproto.identity.requestPlcOperationSignature", session: session, post: true)
    }

    /// Has the PDS sign a PLC operation whose fields are `changes` (each given field replaces the
    /// previous operation's whole field, so callers pass complete maps).
    public func signPLCOperation(session: Session, token: String, changes: [String: Any]) async throws(Failure)
        -> [String: Any]
    {
        let method = "com.atproto.identity.signPlcOperation"
        var input = changes
        input["token"] = token
        let answer = try await call(method, input: input, session: session, post: true)
        guard let operation = answer["operation"] as? [String: Any] else {
            throw Failure.badAnswer(method: method, reason: "no operation")
        }
        return operation
    }

    public func submitPLCOperation(session: Session, operation: [String: Any]) async throws(Failure) {
        _ = try await call(
            "com.atproto.identity.submitPlcOperation", input: ["operation": operation], session: session, post: true)
    }
}

extension IdentityResolver {
    /// The current state of a did:plc as the directory holds it (`GET {plc}/{did}/data`):
    /// `rotationKeys`, `verificationMethods`, `alsoKnownAs`, `services`. Never cached: it is read
    /// just before an update that must keep every field.
    public nonisolated func plcData(for did: DID) async throws(IdentityError) -> [String: Any] {
        guard did.method == "plc" else { throw IdentityError.unsupportedMethod(did) }
        let url = try documentURL(for: did) + "/data"
        let response = try await fetcher.get(url)
        switch response.status {
        case 200: break
        case 404: throw IdentityError.notFound(did.rawValue)
        default: throw IdentityError.httpStatus(url: url, status: response.status)
        }
        guard let object = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any] else {
            throw IdentityError.badDocument("\(url) is not a JSON object")
        }
        return object
    }
}
