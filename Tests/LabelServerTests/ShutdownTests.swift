import ATCrypto
import ATProto
import Foundation
import LabelServer
import LabelStore
import Labeler
import ServiceLifecycle
import Synchronization
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The label writer as a service: it stops (committing what is queued) on graceful shutdown.
struct WriterService: Service {
    let writer: LabelWriter
    func run() async throws {
        await cancelWhenGracefulShutdown { await writer.run() }
    }
}

@Suite struct ShutdownTests {
    /// In a service group, a graceful shutdown ends open subscriptions and the server stops.
    @Test func gracefulShutdownClosesSubscribersAndStops() async throws {
        let (server, writer, store, key) = try Self.server()
        let (group, running) = Self.run(server, writer)
        let port = try await server.port()
        let h = Harness(
            store: store, key: key, writer: writer, server: server, metrics: MetricsRegistry(), port: port, router: nil)
        try await h.subscribe(cursor: "0") { session in
            try await h.apply(2)
            #expect(try await session.seqs(through: 2).map(\.seq) == [1, 2])
            await group.triggerGracefulShutdown()
            // The server ends the stream; nothing more arrives.
            let next = try? await session.nextFrame()
            #expect(next == nil)
        }
        try await running.value
        #expect(server.subscriberCount == 0)
    }

    /// A server, its writer, their store and signing key, not yet running.
    static func server() throws -> (LabelServer, LabelWriter, LabelStore, SigningKey) {
        let store = try LabelStore(path: temporaryPath("labels.sqlite"))
        let key = SigningKey.generate(.secp256k1)
        let writer = try LabelWriter(store: store, src: Harness.src, key: key, logger: quietLogger())
        let keyID = try store.keyID(forDIDKey: key.publicKey.didKey, at: Datetime.now().rawValue)
        let server = try LabelServer(
            configuration: .init(host: "127.0.0.1", port: 0), store: store, signingKey: key, keyID: keyID,
            submit: { try await writer.submit($0) }, commits: writer.commits, health: HealthProvider(version: "t"),
            metrics: MetricsRegistry(), logger: quietLogger())
        return (server, writer, store, key)
    }

    /// The writer and the server in a service group, running.
    static func run(_ server: LabelServer, _ writer: LabelWriter) -> (ServiceGroup, Task<Void, any Error>) {
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: WriterService(writer: writer)), .init(service: server)], logger: quietLogger()
            ))
        return (group, Task { try await group.run() })
    }

    /// Whether `task` ends within 30 s of `stop`. Not awaited directly: were it to hang, the
    /// test must fail, not hang with it.
    static func ends(_ task: Task<Void, any Error>, after stop: () async -> Void) async -> Bool {
        let ended = Atomic(false)
        Task {
            _ = await task.result
            ended.store(true, ordering: .relaxed)
        }
        await stop()
        return await eventually(timeout: .seconds(30)) { ended.load(ordering: .relaxed) }
    }

    /// Connects `fd` to 127.0.0.1:`port`; whether it worked.
    static func connectToLoopback(_ fd: Int32, port: Int) -> Bool {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return connected == 0
    }

    /// A TCP connection to the server that sends nothing, as a client's pooled spare does; then
    /// one request on another connection, so the idle one has been accepted and handed to its
    /// task by the time the answer comes (connections are accepted in order).
    static func idleConnection(to port: Int) async throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(connectToLoopback(fd, port: port))
        let (_, response) = try await URLSession.shared.data(
            from: URL(string: "http://127.0.0.1:\(port)/xrpc/_health")!)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        return fd
    }

    /// A subscriber that completed the WebSocket upgrade and then reads and answers nothing:
    /// it will never reply to the server's close frame. Returns its socket once the server
    /// counts it. With `cursor`, it asks for a backfill; `receiveBuffer` shrinks its socket's buffer so that
    /// the server's writes to it soon block.
    static func silentSubscriber(
        to port: Int, server: LabelServer, cursor: Int? = nil, receiveBuffer: Int32? = nil
    ) async throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if var size = receiveBuffer {
            #expect(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size)) == 0)
        }
        #expect(connectToLoopback(fd, port: port))
        let request = Array(
            ("GET /xrpc/com.atproto.label.subscribeLabels\(cursor.map { "?cursor=\($0)" } ?? "") HTTP/1.1\r\n"
                + "Host: 127.0.0.1\r\n"
                + "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                + "Sec-WebSocket-Version: 13\r\n\r\n").utf8)
        #expect(request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) } == request.count)
        #expect(await eventually(timeout: .seconds(30)) { server.subscriberCount == 1 })
        return fd
    }

    /// Shut down gracefully, the server stops although a subscriber never answers its close
    /// frame: the subscription ends when the shutdown starts, and the connection is closed once
    /// the close handshake's timeout has passed.
    @Test func aSubscriberThatNeverAnswersDoesNotHoldAGracefulShutdown() async throws {
        let (server, writer, _, _) = try Self.server()
        let (group, running) = Self.run(server, writer)
        let fd = try await Self.silentSubscriber(to: try await server.port(), server: server)
        defer { close(fd) }
        #expect(await Self.ends(running) { await group.triggerGracefulShutdown() })
        #expect(server.subscriberCount == 0)
    }

    /// Shut down gracefully, the server stops although its write to a subscriber is blocked: the
    /// subscriber asked for a backfill far larger than the socket buffers and reads nothing, so
    /// the stream waits on the socket. Ending the subscription must not wait for that write.
    @Test func aBlockedWriteToASubscriberDoesNotHoldAGracefulShutdown() async throws {
        let (server, writer, store, key) = try Self.server()
        let (group, running) = Self.run(server, writer)
        let port = try await server.port()
        let h = Harness(
            store: store, key: key, writer: writer, server: server, metrics: MetricsRegistry(), port: port, router: nil)
        for batch in 0..<4 { try await h.apply(5_000, from: batch * 5_000) }
        let fd = try await Self.silentSubscriber(to: port, server: server, cursor: 0, receiveBuffer: 4_096)
        defer { close(fd) }
        // The backfill fills the buffers: what has arrived stops growing.
        var previous: Int32 = -1
        var steady = 0
        #expect(
            await eventually(timeout: .seconds(60)) {
                var waiting: Int32 = 0
                _ = ioctl(fd, UInt(FIONREAD), &waiting)
                steady = waiting > 0 && waiting == previous ? steady + 1 : 0
                previous = waiting
                return steady >= 5
            })
        #expect(await Self.ends(running) { await group.triggerGracefulShutdown() })
        #expect(server.subscriberCount == 0)
    }

    /// Cancelled, the server stops although a connection that never sent a request is open.
    @Test func anIdleConnectionDoesNotKeepACancelledServerRunning() async throws {
        let (server, _, _, _) = try Self.server()
        let serving = Task { try await server.run() }
        let fd = try await Self.idleConnection(to: try await server.port())
        defer { close(fd) }
        #expect(await Self.ends(serving) { serving.cancel() })
    }

    /// Shut down gracefully (SIGTERM in `labeler run`), the server stops although a connection
    /// that never sent a request is open.
    @Test func anIdleConnectionDoesNotHoldAGracefulShutdown() async throws {
        let (server, writer, _, _) = try Self.server()
        let (group, running) = Self.run(server, writer)
        let fd = try await Self.idleConnection(to: try await server.port())
        defer { close(fd) }
        #expect(await Self.ends(running) { await group.triggerGracefulShutdown() })
    }
}
