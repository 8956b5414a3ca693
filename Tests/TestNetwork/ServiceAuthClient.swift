import ATCrypto
import ATProto
import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// What a PDS does for its user when a request is proxied to the labeler: mint a service-auth
/// token (`com.atproto.server.getServiceAuth`), and send the XRPC call with it. Shared by the
/// tests and the benchmarks that file reports or emit events as the network would.
public enum ServiceAuthToken {
    /// A token signed by `key` for `issuer`, addressed to `audience` for `method`, valid from now
    /// for `lifetime` seconds, with a fresh `jti`. The signature is raw `r‖s`, low-S, as ATCrypto
    /// signs.
    public static func mint(
        _ key: SigningKey, issuer: String, audience: String, method: String, lifetime: Int64 = 60
    ) throws -> String {
        func part(_ object: [String: Any]) throws -> String {
            Base64.encode(
                Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])), alphabet: .url)
        }
        let now = Int64(Date().timeIntervalSince1970)
        let input =
            try part(["alg": key.type == .secp256k1 ? "ES256K" : "ES256", "typ": "JWT"]) + "."
            + part([
                "iss": issuer, "aud": audience, "lxm": method, "iat": now, "exp": now + lifetime,
                "jti": UUID().uuidString,
            ])
        return input + "." + Base64.encode(try key.sign(Array(input.utf8)), alphabet: .url)
    }
}

/// An XRPC answer: its status, body and headers (names lowercased).
public struct XRPCAnswer: Sendable {
    public var status: Int
    public var text: String
    public var headers: [String: String]
}

/// POSTs `body` (JSON) to `method` on the server at 127.0.0.1:`port` with `Authorization: Bearer
/// bearer`.
public func postXRPC(
    port: Int, method: String, bearer: String, body: String, session: URLSession = .shared
) async throws -> XRPCAnswer {
    var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/xrpc/\(method)")!)
    request.httpMethod = "POST"
    request.httpBody = Data(body.utf8)
    request.setValue("application/json", forHTTPHeaderField: "Content-Type")
    request.setValue("Bearer " + bearer, forHTTPHeaderField: "Authorization")
    let (data, response) = try await session.data(for: request)
    let http = response as? HTTPURLResponse
    var headers: [String: String] = [:]
    for (name, value) in http?.allHeaderFields ?? [:] {
        if let name = name as? String, let value = value as? String { headers[name.lowercased()] = value }
    }
    return XRPCAnswer(status: http?.statusCode ?? 0, text: String(decoding: data, as: UTF8.self), headers: headers)
}
