import ATProto
import Logging
import SeededRandom
import Synchronization
import SyntheticFirehose
import TestRelay
import TestSupport
import Testing

@testable import Firehose

/// What a test consumer saw from a source.
final class Received: Sendable {
    struct State {
        var seqs: [Int64] = []
        var rejected: [Int64] = []
        var resets = 0
        var durable: Int64?
        /// The size of each batch `runSealed` handed over.
        var batchSizes: [Int] = []
    }

    private let state: Mutex<State>

    init(durable: Int64? = nil) { state = Mutex(State(durable: durable)) }

    var snapshot: State { state.withLock { $0 } }

    func deliver(_ event: SourceEvent) {
        state.withLock { s in
            switch event {
            case .event(let seq, _, _): s.seqs.append(seq)
            case .rejected(let seq, _, _): s.rejected.append(seq)
            case .reset:
                // A consumer must drop its durable cursor, or the next reconnect asks for the future again.
                s.resets += 1
                s.durable = nil
            }
        }
    }

    var durable: Int64? { state.withLock { $0.durable } }

    /// What a pipeline's workers do with a batch from `runSealed`: open each envelope; one that
    /// opens with a content error is a rejected event.
    func deliver(_ batch: [SealedSourceEvent]) {
        #expect(!batch.isEmpty, "a batch is never empty")
        state.withLock { $0.batchSizes.append(batch.count) }
        for sealed in batch {
            switch sealed {
            case .event(let envelope):
                do {
                    let event = try envelope.open()
                    deliver(.event(seq: envelope.seq, event, raw: []))
                } catch {
                    #expect(error.rejectsOnlyEvent, "a malformed message reached the consumer: \(error)")
                    state.withLock { $0.rejected.append(envelope.seq) }
                }
            case .rejected(let seq, _, _): state.withLock { $0.rejected.append(seq) }
            case .reset(let previous): deliver(.reset(previousCursor: previous))
            }
        }
    }
}

/// The two ways a source is read: event by event, decoded (`run`), or in batches of envelopes
/// (`runSealed`, what the ingest pipeline uses), there with reads spaced by a window.
enum ReadMode: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case events, batches
    var testDescription: String { rawValue }
}

@Suite(.serialized) struct RelaySourceTests {
    static let messages: [[UInt8]] = {
        var generator = SyntheticFirehose(seed: 12)
        return generator.messages(600)
    }()
    static var seqs: [Int64] { messages.compactMap { RelaySource.seq(of: $0) } }

    func configuration(_ url: String, silence: Duration = .seconds(30), mode: ReadMode = .events)
        -> RelaySource.Configuration
    {
        RelaySource.Configuration(
            url: url,
            webSocket: .init(
                pingInterval: .milliseconds(200), silenceTimeout: silence, connectTimeout: .seconds(5),
                closeTimeout: .seconds(30), readWindow: mode == .batches ? .milliseconds(3) : .zero),
            backoff: Backoff(initial: .milliseconds(10), maximum: .milliseconds(100)))
    }

    /// Runs the source until `done` holds (or 90 s pass), then stops it.
    func run(
        _ source: RelaySource, _ received: Received, mode: ReadMode = .events,
        until done: @escaping @Sendable (Received.State) -> Bool
    ) async throws {
        let task = Task {
            switch mode {
            case .events:
                try await source.run(resumeAfter: { received.durable }, deliver: { received.deliver($0) })
            case .batches:
                try await source.runSealed(resumeAfter: { received.durable }, deliver: { received.deliver($0) })
            }
        }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(90)
        while !done(received.snapshot) && clock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        task.cancel()
        _ = await task.result
    }

    /// Serves `messages` through a test relay with `faults` and runs a source against it until
    /// `until` holds (by default: every seq delivered). The caller stops the relay.
    func deliver(
        faults: TestRelay.Faults = .init(), messages: [[UInt8]] = Self.messages, durable: Int64? = nil,
        silence: Duration = .seconds(30), mode: ReadMode = .events,
        until: @escaping @Sendable (Received.State) -> Bool = { $0.seqs.count >= RelaySourceTests.seqs.count }
    ) async throws -> (TestRelay, RelaySource, Received) {
        let relay = try await TestRelay(messages: messages, faults: faults)
        let source = try RelaySource(
            configuration: configuration(relay.url, silence: silence, mode: mode), logger: logger())
        let received = Received(durable: durable)
        try await run(source, received, mode: mode, until: until)
        return (relay, source, received)
    }

    func logger() -> Logger {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }

    @Test(arguments: ReadMode.allCases) func deliversEverythingOnceOnACleanStream(mode: ReadMode) async throws {
        let (relay, source, received) = try await deliver(mode: mode)
        let all = Self.seqs
        #expect(received.snapshot.seqs == all)
        if mode == .batches {
            // A relay sending as fast as it can fills each read with many messages.
            let sizes = received.snapshot.batchSizes
            #expect(sizes.reduce(0, +) == all.count)
            #expect(sizes.count < all.count, "\(sizes.count) batches for \(all.count) events: no read brought two")
        }
        #expect(relay.requestedCursors.first == .some(nil))
        #expect(source.metrics.snapshot.connections == 1)
        await relay.stop()
    }

    /// Control frames between and after the messages (here a pong after each one, so the last
    /// frame received is a pong): every message is still handed over, none held back waiting
    /// for a next message that never comes.
    @Test(arguments: ReadMode.allCases) func controlFramesAmongTheMessagesHoldNothingBack(mode: ReadMode) async throws {
        var faults = TestRelay.Faults()
        faults.pongEvery = 1
        let (relay, _, received) = try await deliver(faults: faults, mode: mode)
        #expect(received.snapshot.seqs == Self.seqs)
        await relay.stop()
    }

    @Test(arguments: ReadMode.allCases) func connectionDropsLoseAndRepeatNothing(mode: ReadMode) async throws {
        var faults = TestRelay.Faults()
        faults.dropAfter = 70
        let (relay, _, received) = try await deliver(faults: faults, mode: mode)
        let all = Self.seqs
        #expect(received.snapshot.seqs == all)
        #expect(relay.connections >= all.count / 70)
        // Each reconnection resumed right after the last seq delivered.
        let cursors = relay.requestedCursors.dropFirst().compactMap { $0 }
        #expect(!cursors.isEmpty && cursors.allSatisfy { all.contains($0) })
        await relay.stop()
    }

    @Test(arguments: ReadMode.allCases) func corruptFramesDropTheConnectionAndAreFetchedAgain(mode: ReadMode)
        async throws
    {
        var faults = TestRelay.Faults()
        faults.corruptEvery = 97
        let (relay, source, received) = try await deliver(faults: faults, mode: mode)
        let all = Self.seqs
        #expect(received.snapshot.seqs == all)
        let metrics = source.metrics.snapshot
        #expect(metrics.decodeErrors >= 5)
        #expect(metrics.connections == metrics.decodeErrors + 1)
        await relay.stop()
    }

    @Test(arguments: ReadMode.allCases) func futureCursorRestartsFromTheLiveHeadAndRecordsTheGap(mode: ReadMode)
        async throws
    {
        let (relay, source, received) = try await deliver(durable: Self.seqs.last! + 1000, mode: mode)
        let all = Self.seqs
        #expect(received.snapshot.seqs == all)
        #expect(received.snapshot.resets == 0)  // nothing had been delivered yet: no reset needed
        #expect(source.metrics.snapshot.futureCursors == 1)
        #expect(relay.requestedCursors.prefix(2) == [Self.seqs.last! + 1000, nil])
        await relay.stop()
    }

    @Test(arguments: ReadMode.allCases) func outdatedCursorIsCountedAndTheStreamContinues(mode: ReadMode) async throws {
        let (relay, source, received) = try await deliver(durable: 5, mode: mode)
        let all = Self.seqs
        #expect(received.snapshot.seqs == all)
        #expect(source.metrics.snapshot.outdatedCursors == 1)
        await relay.stop()
    }

    @Test(arguments: ReadMode.allCases) func silenceIsADeadConnection(mode: ReadMode) async throws {
        var faults = TestRelay.Faults()
        faults.silenceAfter = 150
        let (relay, source, received) = try await deliver(faults: faults, silence: .milliseconds(800), mode: mode)
        let all = Self.seqs
        #expect(received.snapshot.seqs == all)
        #expect(source.metrics.snapshot.connections == 2)
        #expect(relay.requestedCursors.last == .some(all[149]))
        await relay.stop()
    }

    @Test func httpRefusalsAreRetriedHonouringRetryAfter() async throws {
        var faults = TestRelay.Faults()
        faults.refusals = [(503, nil), (429, 1)]
        let relay = try await TestRelay(messages: Self.messages, faults: faults)
        let source = try RelaySource(configuration: configuration(relay.url), logger: logger())
        let received = Received()
        let all = Self.seqs
        let clock = ContinuousClock()
        let start = clock.now
        try await run(source, received) { $0.seqs.count >= all.count }
        #expect(received.snapshot.seqs == all)
        #expect(source.metrics.snapshot.httpErrors == 2)
        #expect(clock.now - start >= .seconds(1))  // waited out Retry-After
        await relay.stop()
    }

    /// A message over the size limit drops the connection; the source never skips past it (that
    /// would lose the event) and never crashes, it keeps reconnecting from the last seq.
    @Test func aMessageOverTheSizeLimitIsNeverSkipped() async throws {
        let relay = try await TestRelay(messages: Self.messages)
        let limit = 600
        var configuration = configuration(relay.url)
        configuration.webSocket.maxMessageSize = limit
        let source = try RelaySource(configuration: configuration, logger: logger())
        let received = Received()
        try await run(source, received) { _ in source.metrics.snapshot.connections >= 3 }
        let firstTooLarge = try #require(Self.messages.firstIndex { $0.count > limit })
        let before = Self.messages[..<firstTooLarge].compactMap { RelaySource.seq(of: $0) }
        #expect(received.snapshot.seqs == before)
        #expect(relay.requestedCursors.dropFirst().allSatisfy { $0 == before.last })
        await relay.stop()
    }

    @Test func notImplementedEndsTheSource() async throws {
        var faults = TestRelay.Faults()
        faults.alwaysRefuse = 501
        let relay = try await TestRelay(messages: Self.messages, faults: faults)
        let source = try RelaySource(configuration: configuration(relay.url), logger: logger())
        await #expect(throws: RelaySource.FatalError.self) {
            try await source.run(resumeAfter: { nil }, deliver: { _ in })
        }
        #expect(relay.connections == 1)
        await relay.stop()
    }

    @Test(arguments: ReadMode.allCases) func aTamperedEventIsRejectedWithoutDroppingTheConnection(mode: ReadMode)
        async throws
    {
        var messages = Self.messages
        let index = try #require(
            messages.firstIndex { m in
                guard let (header, body) = try? FrameCodec.split(m[...]) else { return false }
                return header == .message("#commit") && (body["blocks"]?.bytesValue?.count ?? 0) > 400
            })
        let (_, body) = try FrameCodec.split(messages[index][...])
        let blocks = try #require(body["blocks"]?.bytesValue)
        messages[index][blocks.endIndex - 2] ^= 0x40
        let (relay, source, received) = try await deliver(
            messages: messages, mode: mode, until: { $0.seqs.count + $0.rejected.count >= Self.seqs.count })
        let all = Self.seqs
        #expect(received.snapshot.rejected == [all[index]])
        #expect(received.snapshot.seqs == all.filter { $0 != all[index] })
        #expect(source.metrics.snapshot.connections == 1)
        await relay.stop()
    }

    @Test func endpointParsing() throws {
        let e = try WebSocketEndpoint("wss://bsky.network")
        #expect(e.secure && e.host == "bsky.network" && e.port == 443 && e.target == "/")
        let local = try WebSocketEndpoint("ws://127.0.0.1:8080/xrpc/x?cursor=1")
        #expect(!local.secure && local.port == 8080 && local.path == "/xrpc/x")
        #expect(local.with(path: "/a", query: [("cursor", "5"), ("w", "a b")]).target == "/a?cursor=5&w=a%20b")
        let v6 = try WebSocketEndpoint("ws://[::1]:9000")
        #expect(v6.host == "::1" && v6.port == 9000 && v6.hostHeader == "[::1]:9000")
        for bad in ["bsky.network", "ftp://x", "ws://", "ws://host:99999", "ws://user@host"] {
            #expect(throws: WebSocketEndpoint.Error.self) { try WebSocketEndpoint(bad) }
        }
    }

    /// A relay that corrupts a frame every 1,500 messages: each connection delivers that many
    /// events and then fails, so each counts as one that worked and the wait before the next
    /// stays at the floor (a count of failures that never went down would double it each time).
    @Test func theBackoffStaysAtItsFloorWhileConnectionsDeliver() async throws {
        var generator = SyntheticFirehose(seed: 31)
        let messages = generator.messages(6_000)
        let all = messages.compactMap { RelaySource.seq(of: $0) }
        var faults = TestRelay.Faults()
        faults.corruptEvery = 1_500
        let relay = try await TestRelay(messages: messages, faults: faults)
        var configuration = configuration(relay.url)
        configuration.backoff = Backoff(initial: .milliseconds(40), maximum: .seconds(5))
        let source = try RelaySource(configuration: configuration, logger: logger())
        let received = Received()
        let task = Task { try await source.run(resumeAfter: { received.durable }, deliver: { received.deliver($0) }) }
        try await waitUntil("every event") { received.snapshot.seqs.count >= all.count }
        task.cancel()
        _ = await task.result
        let metrics = source.metrics.snapshot
        #expect(received.snapshot.seqs == all)
        #expect(metrics.decodeErrors >= 3 && metrics.reconnects == metrics.decodeErrors)
        #expect(metrics.longestReconnectDelay <= .milliseconds(40))
        #expect(metrics.reconnectDelay.map { $0 <= .milliseconds(40) } == true)
        await relay.stop()
    }

    /// A relay that accepts the connection and never answers the upgrade: each attempt ends at
    /// the connect timeout and is retried, the wait growing since nothing worked.
    @Test func aStalledUpgradeTimesOutAndIsRetriedWithBackoff() async throws {
        var faults = TestRelay.Faults()
        faults.stall = .upgrade
        let relay = try await TestRelay(messages: Self.messages, faults: faults)
        var configuration = configuration(relay.url)
        configuration.webSocket.connectTimeout = .milliseconds(100)
        configuration.backoff = Backoff(initial: .milliseconds(10), maximum: .milliseconds(40))
        let source = try RelaySource(configuration: configuration, logger: logger())
        let task = Task { try await source.run(resumeAfter: { nil }, deliver: { _ in }) }
        try await waitUntil("three attempts that timed out") { source.metrics.snapshot.connectTimeouts >= 3 }
        task.cancel()
        _ = await task.result
        let metrics = source.metrics.snapshot
        #expect(metrics.connections == 0)
        #expect(metrics.reconnects >= 3 && relay.connections >= 3)
        #expect(metrics.longestReconnectDelay > .milliseconds(10))
        await relay.stop()
    }

    /// The relay closes every 250 messages with 1013 and a reason: counted by code, echoed, and
    /// read on from the cursor; stopping the source then says 1001 (going away).
    @Test(arguments: ReadMode.allCases) func theRelaysCloseCodeIsCountedAndReadingResumes(mode: ReadMode)
        async throws
    {
        var faults = TestRelay.Faults()
        faults.closeAfter = 250
        faults.closeCode = 1013
        faults.closeReason = "try again later"
        let (relay, source, received) = try await deliver(faults: faults, mode: mode)
        #expect(received.snapshot.seqs == Self.seqs)
        #expect(source.metrics.snapshot.closeCodes == [1013: 2])
        try await waitUntil("the close frames") { relay.clientCloses.map(\.code) == [1013, 1013, 1001] }
        await relay.stop()
    }

    /// Shutdown (the task cancelled) sends a close frame and waits for the relay's reply.
    @Test(arguments: ReadMode.allCases) func shutdownSendsGoingAway(mode: ReadMode) async throws {
        let (relay, _, received) = try await deliver(mode: mode)
        #expect(received.snapshot.seqs == Self.seqs)
        try await waitUntil("the close frame") { relay.clientCloses.map(\.code) == [1001] }
        await relay.stop()
    }

    /// A frame with a reserved bit set, or a text frame that is not UTF-8, fails the connection
    /// with the matching close code; reading resumes after the last event.
    @Test(arguments: [(reservedBit: true, code: UInt16(1002)), (reservedBit: false, code: 1007)])
    func aFrameThatBreaksTheProtocolFailsTheConnection(reservedBit: Bool, code: UInt16) async throws {
        var faults = TestRelay.Faults()
        if reservedBit { faults.reservedBitAt = 100 } else { faults.invalidTextAt = 100 }
        let (relay, source, received) = try await deliver(faults: faults)
        #expect(received.snapshot.seqs == Self.seqs)
        #expect(source.metrics.snapshot.connections == 2)
        try await waitUntil("the close frame") { relay.clientCloses.first?.code == code }
        await relay.stop()
    }

    @Test(arguments: ReadMode.allCases) func fragmentedMessagesWithPingsBetweenAreJoined(mode: ReadMode)
        async throws
    {
        var faults = TestRelay.Faults()
        faults.fragments = 3
        let (relay, source, received) = try await deliver(faults: faults, mode: mode)
        #expect(received.snapshot.seqs == Self.seqs)
        #expect(source.metrics.snapshot.connections == 1)
        #expect(relay.pingsSent > Self.messages.count)
        try await waitUntil("a pong for every ping") { relay.pongsReceived == relay.pingsSent }
        await relay.stop()
    }

    @Test func wssWithATestCertificateAuthority() async throws {
        let authority = try TestCertificateAuthority()
        let relay = try await TestRelay(messages: Self.messages, tls: authority.server)
        var configuration = configuration(relay.url)
        configuration.webSocket.tls = authority.client
        let source = try RelaySource(configuration: configuration, logger: logger())
        let received = Received()
        try await run(source, received) { $0.seqs.count >= Self.seqs.count }
        #expect(received.snapshot.seqs == Self.seqs)
        #expect(source.metrics.snapshot.connections == 1)
        await relay.stop()
    }

    /// Failures in a row raise the wait; a connection that delivered, or stayed up long enough,
    /// starts it over.
    @Test func reconnectBackoffStartsOverAfterAConnectionThatWorked() {
        var backoff = ReconnectBackoff(
            Backoff(initial: .seconds(1), maximum: .seconds(60), resetAfter: .seconds(30)))
        var rng = SplitMix64(seed: 3)
        for failures in 0..<4 {
            #expect(backoff.failures == failures)
            backoff.connectionEnded(delivered: false, openFor: failures == 0 ? nil : .seconds(29))
            let delay = backoff.nextDelay(using: &rng)
            #expect(delay >= .seconds(1 << failures) / 2 && delay <= .seconds(1 << failures))
        }
        backoff.connectionEnded(delivered: true, openFor: .milliseconds(5))
        #expect(backoff.failures == 0)
        #expect(backoff.nextDelay(using: &rng) <= .seconds(1))
        backoff.connectionEnded(delivered: false, openFor: nil)
        #expect(backoff.failures == 1)
        backoff.connectionEnded(delivered: false, openFor: .seconds(30))
        #expect(backoff.failures == 0)
    }

    @Test func backoffGrowsToItsCeilingWithJitter() {
        let backoff = Backoff(initial: .seconds(1), maximum: .seconds(60))
        #expect(backoff.ceiling(attempt: 0) == .seconds(1))
        #expect(backoff.ceiling(attempt: 3) == .seconds(8))
        #expect(backoff.ceiling(attempt: 10) == .seconds(60))
        var rng = SplitMix64(seed: 1)
        for attempt in 0..<12 {
            let d = backoff.delay(attempt: attempt, using: &rng)
            #expect(d >= backoff.ceiling(attempt: attempt) / 2 && d <= backoff.ceiling(attempt: attempt))
        }
    }
}

@Suite struct CaptureRecorderTests {
    @Test func aRecordingReplaysToTheSameCounts() async throws {
        var generator = SyntheticFirehose(seed: 77)
        let messages = generator.messages(400)
        let relay = try await TestRelay(messages: messages)
        let dir = try TemporaryDirectory()
        let recorder = try CaptureRecorder(path: dir.file("rec.bin"), limit: 300)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let source = try RelaySource(
            configuration: .init(url: relay.url, webSocket: .init(closeTimeout: .seconds(30))), logger: logger)
        await #expect(throws: CaptureRecorder.LimitReached.self) {
            try await source.run(resumeAfter: { nil }, deliver: { try recorder.write($0) })
        }
        try recorder.flush()
        #expect(recorder.count == 300)
        // Stopping at the limit (`labeler record --limit`) closes with a close frame.
        try await waitUntil("the close frame") { relay.clientCloses.map(\.code) == [1000] }
        // The file holds the first 300 messages byte for byte.
        #expect(try readAll(dir.file("rec.bin")) == Array(messages.prefix(300)))
        await relay.stop()
    }
}
