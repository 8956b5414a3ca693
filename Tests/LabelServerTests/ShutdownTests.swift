import ATCrypto
import ATProto
import LabelServer
import LabelStore
import Labeler
import ServiceLifecycle
import TestSupport
import Testing

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
        let store = try LabelStore(path: temporaryPath("labels.sqlite"))
        let key = SigningKey.generate(.secp256k1)
        let writer = try LabelWriter(store: store, src: Harness.src, key: key, logger: quietLogger())
        let keyID = try store.keyID(forDIDKey: key.publicKey.didKey, at: Datetime.now().rawValue)
        let server = try LabelServer(
            configuration: .init(host: "127.0.0.1", port: 0), store: store, signingKey: key, keyID: keyID,
            submit: { try await writer.submit($0) }, commits: writer.commits, health: HealthProvider(version: "t"),
            metrics: MetricsRegistry(), logger: quietLogger())
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: WriterService(writer: writer)), .init(service: server)], logger: quietLogger()
            ))
        let running = Task { try await group.run() }
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
}
