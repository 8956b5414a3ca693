import ATCrypto
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import LabelStore
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// Serves the labels to the network: `subscribeLabels` (WebSocket), `queryLabels`, the admin
/// `emitEvent` endpoint, `/xrpc/_health` and `/metrics`; and the operator's dashboard at `/`.
///
/// It reads labels from the store and writes them only through `submit` (the label writer), and
/// learns of new labels from the writer's commit stream, so it does not depend on the ingest
/// side. It is a ServiceLifecycle `Service`: run it in the daemon's `ServiceGroup`.
///
/// ```
/// let keyID = try store.keyID(forDIDKey: key.publicKey.didKey, at: Datetime.now().rawValue)
/// let server = try LabelServer(
///     configuration: .init(host: "127.0.0.1", port: 14831, adminToken: token),
///     store: store, signingKey: key, keyID: keyID,
///     submit: { try await writer.submit($0) }, commits: writer.commits,
///     health: HealthProvider(version: "1.0.0"), metrics: registry, logger: logger)
/// let group = ServiceGroup(services: [writerService, server], gracefulShutdownSignals: [.sigterm], logger: logger)
/// try await group.run()
/// ```
public final class LabelServer: Service, Sendable {
    /// Writes label changes and returns the rows written once they are durable
    /// (`LabelWriter.submit`).
    public typealias Submit = @Sendable ([LabelChange]) async throws -> [StoredLabel]

    public struct Configuration: Sendable {
        public var host: String
        /// 0 picks a free port (see `port()`).
        public var port: Int
        /// Most simultaneous `subscribeLabels` connections; more are refused with HTTP 503.
        public var maxSubscribers: Int
        /// How many labels a live subscriber may fall behind before it gets `ConsumerTooSlow`.
        public var maxSubscriberLag: Int
        /// How long a subscriber that is behind may make no progress at all (a client that stopped
        /// reading during its backfill) before it gets `ConsumerTooSlow`.
        public var subscriberStallTimeout: Duration
        /// Labels read from the store at once during a backfill.
        public var backfillBatchSize: Int
        /// Recent label frames kept encoded for live subscribers.
        public var recentFrames: Int
        /// Most socket writes per second to live subscribers, in all; 0 for no limit. Each
        /// delivery of new labels costs about one write per subscriber, so deliveries are spaced
        /// by `subscribers / liveWritesPerSecond` seconds (at most one second), and commits that
        /// land in between go out together: with 1,000 subscribers and the default, a delivery
        /// every 100 ms whatever the commit rate. The first commit after a quiet spell goes out at
        /// once.
        public var liveWritesPerSecond: Int
        /// WebSocket ping period; a client that has not answered the previous ping is closed.
        public var pingInterval: Duration
        /// How long an error frame (`ConsumerTooSlow`, `FutureCursor`) may take to reach a client
        /// before its connection is closed anyway.
        public var errorFrameTimeout: Duration
        /// Bearer token of the admin endpoint; nil or empty disables it.
        public var adminToken: String?

        public init(
            host: String = "127.0.0.1", port: Int = 14831, maxSubscribers: Int = 2000, maxSubscriberLag: Int = 10_000,
            subscriberStallTimeout: Duration = .seconds(60), backfillBatchSize: Int = 500, recentFrames: Int = 4096,
            liveWritesPerSecond: Int = 10_000, pingInterval: Duration = .seconds(30),
            errorFrameTimeout: Duration = .seconds(2), adminToken: String? = nil
        ) {
            self.host = host
            self.port = port
            self.maxSubscribers = maxSubscribers
            self.maxSubscriberLag = maxSubscriberLag
            self.subscriberStallTimeout = subscriberStallTimeout
            self.backfillBatchSize = backfillBatchSize
            self.recentFrames = recentFrames
            self.liveWritesPerSecond = liveWritesPerSecond
            self.pingInterval = pingInterval
            self.errorFrameTimeout = errorFrameTimeout
            self.adminToken = adminToken
        }
    }

    /// The server stopped before it was listening.
    public struct NotListening: Error, CustomStringConvertible {
        public var description: String { "the label server stopped before it was listening" }
    }

    public let configuration: Configuration
    let broadcaster: Broadcaster
    /// Built in `init`, bound to its port only by `run()`; tests drive its router without a
    /// socket (`application.test(.router)`, HummingbirdTesting).
    let application: Application<RouterResponder<ServerRequestContext>>
    private let listening = ListeningPort()
    /// The dashboard's logged-in sessions (in memory: a restart logs everyone out).
    let dashboardSessions: DashboardSessions

    /// - Parameters:
    ///   - signingKey: the current label signing key; rows signed by another key are re-signed
    ///     with it when served.
    ///   - keyID: the store's id of `signingKey` (`LabelStore.keyID(forDIDKey:at:)`).
    ///   - submit: the label writer's `submit`.
    ///   - commits: the label writer's commit stream (the highest seq after each commit). The
    ///     server is its only consumer.
    ///   - metrics: the server registers its own metrics here; `/metrics` renders all of it.
    ///   - reports: what `createReport` accepts, and how its caller is authenticated; nil
    ///     answers it with 501.
    ///   - dashboard: what the dashboard at `/` shows besides the store (the ingest side's
    ///     counters, the rules); nil shows the store's figures only. The dashboard opens only
    ///     with an admin token.
    ///   - moderators: how a moderator's service-auth token for the admin endpoint is checked;
    ///     nil: only the admin token opens it.
    /// - Throws: when the store cannot be read.
    public init(
        configuration: Configuration, store: LabelStore, signingKey: SigningKey, keyID: Int64, submit: @escaping Submit,
        commits: some AsyncSequence<Int64, Never> & Sendable, health: HealthProvider, metrics: MetricsRegistry,
        reports: ReportIntake? = nil, moderators: ModeratorAuth? = nil, dashboard: DashboardSource? = nil,
        logger: Logger
    ) throws(LabelStore.Error) {
        self.configuration = configuration
        let signer = LabelSigner(key: signingKey, keyID: keyID)
        let broadcaster = try Broadcaster(
            store: store, signer: signer,
            limits: .init(
                maxSubscribers: configuration.maxSubscribers, maxLag: Int64(configuration.maxSubscriberLag),
                stallTimeout: configuration.subscriberStallTimeout, recentFrames: max(1, configuration.recentFrames),
                batchSize: max(1, configuration.backfillBatchSize),
                liveWritesPerSecond: max(0, configuration.liveWritesPerSecond)),
            logger: logger)
        self.broadcaster = broadcaster
        Self.registerMetrics(broadcaster, on: metrics)
        if let limits = reports?.limits {
            metrics.counterFamily(
                "labeler_reports_rate_limited_total", help: "createReport requests refused with 429, by limit.",
                labelNames: ["limit"]
            ) {
                let refusals = limits.refusals
                return ReportLimits.keys.map { .init(labels: [$0], value: Double(refusals[$0] ?? 0)) }
            }
        }

        // Every HTTP route's request count and duration histogram (`http_server_request_duration`
        // by route, method and status): queryLabels and createReport latency among them.
        MetricsBackend.start()
        XRPCTimers.register()
        let router = Router(context: ServerRequestContext.self)
        router.add(middleware: MetricsMiddleware())
        HTTPRoutes(
            store: store, signer: signer, broadcaster: broadcaster, submit: submit,
            adminToken: AdminToken(configuration.adminToken), health: health, metrics: metrics, reports: reports,
            moderators: moderators
        ).register(on: router)
        let sessions = DashboardSessions()
        dashboardSessions = sessions
        DashboardRoutes(
            store: store, submit: submit, adminToken: AdminToken(configuration.adminToken),
            sessions: sessions, source: dashboard ?? DashboardSource(),
            subscribers: { broadcaster.subscriberCount }
        ).register(on: router)
        let webSocketRouter = Router(context: ServerRequestContext.self)
        SubscribeLabelsRoute(broadcaster: broadcaster, finalFrameTimeout: configuration.errorFrameTimeout).register(
            on: webSocketRouter)

        let webSocket = WebSocketServerConfiguration(
            maxFrameSize: 1 << 16, autoPing: .enabled(timePeriod: configuration.pingInterval),
            // After a final error frame the client may still be reading what was buffered before it;
            // its close reply comes after that. Closing sooner would reset the connection and lose it.
            closeTimeout: max(.seconds(5), configuration.errorFrameTimeout)
        )
        let listening = listening
        application = Application(
            router: router,
            server: Self.serverBuilder(
                webSocketRouter: webSocketRouter, webSocket: webSocket, broadcaster: broadcaster),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            services: [BroadcasterService(broadcaster: broadcaster, commits: commits)],
            onServerRunning: { channel in listening.set(channel.localAddress?.port ?? configuration.port) },
            logger: logger)
    }

    /// HTTP/1 with the WebSocket upgrade, behind the subscriber cap.
    static func serverBuilder(
        webSocketRouter: Router<ServerRequestContext>, webSocket: WebSocketServerConfiguration, broadcaster: Broadcaster
    ) -> HTTPServerBuilder {
        let webSocketResponder = webSocketRouter.buildResponder()
        return HTTPServerBuilder { responder in
            SubscriberCapChannel(
                base: HTTP1WebSocketUpgradeChannel(
                    responder: responder, webSocketResponder: webSocketResponder, configuration: .init(ws: webSocket)),
                path: "/xrpc/\(HTTPRoutes.subscribeLabels)", hasRoom: { broadcaster.hasRoom })
        }
    }

    /// Serves until cancelled or shut down gracefully.
    public func run() async throws {
        defer { listening.fail() }
        try await application.run()
    }

    /// The port the server listens on, once it does (useful with port 0).
    /// - Throws: `NotListening` when the server stopped first.
    public func port() async throws -> Int {
        try await listening.wait()
    }

    /// Subscribers connected now.
    public var subscriberCount: Int { broadcaster.subscriberCount }

    /// Subscribers past their backfill (or live-only from the start), to which every label
    /// committed from now on is sent.
    public var liveSubscriberCount: Int { broadcaster.liveSubscriberCount }

    static func registerMetrics(_ broadcaster: Broadcaster, on registry: MetricsRegistry) {
        let counters = broadcaster.counters
        registry.gauge("labeler_subscribers", help: "subscribeLabels connections open now.") {
            Double(broadcaster.subscriberCount)
        }
        registry.counter("labeler_subscriber_connections_total", help: "subscribeLabels connections accepted.") {
            Double(counters.connections.load(ordering: .relaxed))
        }
        registry.counter("labeler_label_frames_sent_total", help: "#labels frames sent to subscribers.") {
            Double(counters.framesSent.load(ordering: .relaxed))
        }
        registry.counter(
            "labeler_slow_consumer_drops_total", help: "Subscribers dropped with ConsumerTooSlow."
        ) { Double(counters.slowConsumerDrops.load(ordering: .relaxed)) }
    }
}

/// Runs the broadcaster inside the application's service group, and ends every subscription on
/// graceful shutdown so that open connections finish.
struct BroadcasterService<Commits: AsyncSequence & Sendable>: Service
where Commits.Element == Int64, Commits.Failure == Never {
    let broadcaster: Broadcaster
    let commits: Commits

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await broadcaster.run(commits: commits)
            // The writer stopped: nothing more will be committed; serve what there is until shutdown.
            try? await gracefulShutdown()
        }
        broadcaster.stop()
    }
}

/// The listening port, set once the server runs, awaited by `LabelServer.port()`.
final class ListeningPort: Sendable {
    private let state = Mutex<(port: Int?, failed: Bool, waiters: [CheckedContinuation<Int, any Error>])>(
        (nil, false, []))

    func set(_ port: Int) {
        let waiters = state.withLock { s in
            s.port = port
            defer { s.waiters = [] }
            return s.waiters
        }
        for waiter in waiters { waiter.resume(returning: port) }
    }

    /// The server stopped: waiters that never saw a port get an error.
    func fail() {
        let waiters = state.withLock { s in
            s.failed = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for waiter in waiters { waiter.resume(throwing: LabelServer.NotListening()) }
    }

    func wait() async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            let result = state.withLock { s -> Result<Int, any Error>? in
                if let port = s.port { return .success(port) }
                if s.failed { return .failure(LabelServer.NotListening()) }
                s.waiters.append(continuation)
                return nil
            }
            if let result { continuation.resume(with: result) }
        }
    }
}
