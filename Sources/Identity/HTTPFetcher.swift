import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// One HTTP exchange with a deadline and a cap on the answer's size, with every failure turned
/// into an `IdentityError` naming the URL. The resolver and the XRPC client both go through it.
public struct HTTPFetcher: Sendable {
    public struct Response: Sendable {
        public let status: Int
        public let body: Data
        public let headers: HTTPHeaders
    }

    public let client: HTTPClient
    public let timeout: Duration
    /// Answers larger than this are refused rather than read.
    public let maximumBody: Int

    /// One client for the process. Unlike `HTTPClient.shared` it does not retry a refused
    /// connection until the deadline: a host that is down says so at once.
    public static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration.singletonConfiguration
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    public init(client: HTTPClient = HTTPFetcher.client, timeout: Duration, maximumBody: Int = 1 << 20) {
        self.client = client
        self.timeout = timeout
        self.maximumBody = maximumBody
    }

    public func get(_ url: String, headers: [(String, String)] = []) async throws(IdentityError) -> Response {
        try await send(url, method: .GET, body: nil, headers: headers)
    }

    public func post(_ url: String, json: Data, headers: [(String, String)] = []) async throws(IdentityError)
        -> Response
    {
        try await send(url, method: .POST, body: json, headers: [("Content-Type", "application/json")] + headers)
    }

    func send(_ url: String, method: HTTPMethod, body: Data?, headers: [(String, String)]) async throws(IdentityError)
        -> Response
    {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "labeler")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let deadline = NIODeadline.now() + TimeAmount.nanoseconds(Int64(timeout.inSeconds * 1e9))
        do {
            let response = try await client.execute(request, deadline: deadline)
            let bytes = try await response.body.collect(upTo: maximumBody)
            return Response(
                status: Int(response.status.code), body: Data(bytes.readableBytesView), headers: response.headers)
        } catch let error as HTTPClientError
            where error == .deadlineExceeded || error == .connectTimeout || error == .readTimeout
        {
            throw IdentityError.timeout(url: url, seconds: timeout.inSeconds)
        } catch is NIOTooManyBytesError {
            throw IdentityError.badDocument("\(url): the answer is larger than \(maximumBody) bytes")
        } catch let error as HTTPClientError where error == .invalidURL || error == .emptyHost || error == .emptyScheme
        {
            throw IdentityError.unreachable(url: url, reason: "not a usable URL")
        } catch {
            throw IdentityError.unreachable(url: url, reason: Self.reason(error))
        }
    }

    /// A short reason for a transport failure; NIO's errors print their whole structure otherwise.
    static func reason(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "connection refused" }
        if text.contains("handshake") || text.contains("SSL") || text.contains("TLS") { return "TLS failed: \(text)" }
        return text.count > 200 ? String(text.prefix(200)) + "…" : text
    }
}
