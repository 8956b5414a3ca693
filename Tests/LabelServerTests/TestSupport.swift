import ATCrypto
import ATProto
import Firehose
import Foundation
import Hummingbird
import HummingbirdTesting
import LabelStore
import Labeler
import NIOCore
import TestNetwork
import TestSupport
import Testing

@testable import LabelServer

/// A store, a running label writer and a label server: running on a free port, or with its router
/// driven directly.
struct Harness: Sendable {
    static let src = "did:plc:labeler"

    /// How requests reach the server.
    enum Transport: Sendable {
        /// The server listens on a free port; HTTP requests and `subscribeLabels` go over sockets.
        case socket
        /// Nothing listens: HTTP requests go straight to the server's router
        /// (`application.test(.router)`), with its services (the broadcaster) running. No WebSocket.
        case router
    }

    let store: LabelStore
    let key: SigningKey
    let writer: LabelWriter
    let server: LabelServer
    let metrics: MetricsRegistry
    /// The listening port (`.socket` only).
    let port: Int?
    /// The router's test client (`.router` only).
    let router: (any TestClientProtocol)?

    /// Runs `body` with a fresh harness, then stops the server and the writer.
    static func with<T: Sendable>(
        over transport: Transport = .socket, keyType: KeyType = .secp256k1, storePath: String? = nil,
        servingKey: SigningKey? = nil, reports: ReportIntake? = nil, moderators: ModeratorAuth? = nil,
        dashboard: DashboardSource? = nil,
        configure: (inout LabelServer.Configuration) -> Void = { _ in },
        _ body: @Sendable (Harness) async throws -> T
    ) async throws -> T {
        let store = try LabelStore(path: storePath ?? temporaryPath("labels.sqlite"))
        let key = SigningKey.generate(keyType)
        let writer = try LabelWriter(store: store, src: src, key: key, logger: quietLogger())
        var configuration = LabelServer.Configuration(host: "127.0.0.1", port: 0)
        // A final error frame gets all the time a busy machine needs to go out (the default, 2 s,
        // is for clients that stopped reading).
        configuration.errorFrameTimeout = .seconds(60)
        configure(&configuration)
        let serving = servingKey ?? key
        let keyID = try store.keyID(forDIDKey: serving.publicKey.didKey, at: Datetime.now().rawValue)
        let metrics = MetricsRegistry()
        let server = try LabelServer(
            configuration: configuration, store: store, signingKey: serving, keyID: keyID,
            submit: { try await writer.submit($0) }, commits: writer.commits,
            health: HealthProvider(version: "test-1", cursor: { 42 }, secondsBehindRelay: { 1.25 }), metrics: metrics,
            reports: reports, moderators: moderators, dashboard: dashboard, logger: quietLogger())
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await writer.run() }
            defer { group.cancelAll() }
            switch transport {
            case .socket:
                // Stopped gracefully, never by cancellation (see `ServiceRunner`).
                let running = ServiceRunner([server], logger: quietLogger())
                do {
                    let port = try await server.port()
                    let result = try await body(
                        Harness(
                            store: store, key: serving, writer: writer, server: server, metrics: metrics, port: port,
                            router: nil))
                    await running.stop()
                    return result
                } catch {
                    await running.stop()
                    throw error
                }
            case .router:
                return try await server.application.test(.router) { client in
                    try await body(
                        Harness(
                            store: store, key: serving, writer: writer, server: server, metrics: metrics, port: nil,
                            router: client))
                }
            }
        }
    }

    /// The listening port; `subscribeLabels` needs the `.socket` transport.
    var socketPort: Int {
        get throws { try #require(port, "this test needs the .socket transport") }
    }

    /// Applies `count` labels with distinct URIs `<prefix><n>`.
    @discardableResult
    func apply(
        _ count: Int, prefix: String = "at://did:plc:alice/app.bsky.feed.post/", val: String = "spam", from: Int = 0
    )
        async throws -> [StoredLabel]
    {
        let changes = try (from..<(from + count)).map {
            LabelChange(
                action: .apply, subject: try LabelSubject("\(prefix)\($0)"), val: val, origin: .rule(id: "test"))
        }
        return try await writer.submit(changes)
    }

    var endpoint: WebSocketEndpoint {
        get throws { try WebSocketEndpoint("ws://127.0.0.1:\(socketPort)/xrpc/com.atproto.label.subscribeLabels") }
    }

    func endpoint(cursor: String?) throws -> WebSocketEndpoint {
        let query = cursor.map { "?cursor=\($0)" } ?? ""
        return try WebSocketEndpoint("ws://127.0.0.1:\(socketPort)/xrpc/com.atproto.label.subscribeLabels\(query)")
    }

    /// Connects to subscribeLabels and runs `body` with the session.
    func subscribe<T: Sendable>(
        cursor: String?, silenceTimeout: Duration = .seconds(120), _ body: (WebSocketSession) async throws -> T
    ) async throws -> T {
        try await WebSocketClient.withConnection(
            to: endpoint(cursor: cursor),
            configuration: .init(pingInterval: .seconds(60), silenceTimeout: silenceTimeout), body)
    }

    /// Sends an HTTP request over the harness's transport.
    func request(
        _ path: String, method: HTTPRequest.Method = .get, headers: HTTPFields = [:], body: String? = nil
    ) async throws -> TestClient.Response {
        let body = body.map { ByteBuffer(string: $0) }
        if let router {
            let response = try await router.executeRequest(uri: path, method: method, headers: headers, body: body)
            return TestClient.Response(
                head: response.head, body: response.body, trailerHeaders: response.trailerHeaders)
        }
        return try await TestClient.withClient(host: "127.0.0.1", port: socketPort) { client in
            try await client.execute(TestClient.Request(path, method: method, headers: headers, body: body))
        }
    }
}

/// A decoded subscribeLabels frame.
enum StreamFrame: Equatable {
    case labels(seq: Int64, labels: [Label])
    case error(String, String?)
}

func decodeFrame(_ bytes: [UInt8]) throws -> StreamFrame {
    let (header, body) = try FrameCodec.split(bytes[...])
    switch header {
    case .message("#labels"):
        let seq = try #require(body["seq"]?.intValue)
        let labels = try #require(body["labels"]?.arrayValue).map { try Label(cbor: $0) }
        return .labels(seq: seq, labels: labels)
    case .error:
        return .error(try #require(body["error"]?.stringValue), body["message"]?.stringValue)
    default:
        Issue.record("unexpected frame \(header)")
        return .error("unexpected", nil)
    }
}

extension WebSocketSession {
    /// The next frame, or nil when the server closed the connection.
    func nextFrame() async throws -> StreamFrame? {
        while let message = try await receive() {
            if case .binary(let bytes) = message { return try decodeFrame(bytes) }
        }
        return nil
    }

    /// Reads `#labels` frames until one has a seq of at least `last`; returns every seq, in order.
    func seqs(through last: Int64) async throws -> [(seq: Int64, label: Label)] {
        var out: [(Int64, Label)] = []
        while out.last.map({ $0.0 < last }) ?? true {
            guard let frame = try await nextFrame() else { break }
            guard case .labels(let seq, let labels) = frame else {
                Issue.record("unexpected frame \(frame)")
                break
            }
            #expect(labels.count == 1)
            out.append((seq, labels[0]))
        }
        return out
    }
}

extension TestClient.Response {
    var text: String { body.map { String(buffer: $0) } ?? "" }

    /// The JSON body as a data-model value.
    var json: CBORValue {
        get throws { try DataModelJSON.parseObject(text) }
    }

    var xrpcError: String? { (try? json)?["error"]?.stringValue }
}
