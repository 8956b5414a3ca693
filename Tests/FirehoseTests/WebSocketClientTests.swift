import NIOCore
import NIOSSL
import Synchronization
import TestRelay
import TestSupport
import Testing

@testable import Firehose

/// The WebSocket client against a test relay that misbehaves in the ways real servers and
/// networks do: stalls while connecting, fragments, pings, closes with a reason, breaks the
/// protocol.
@Suite struct WebSocketClientTests {
    func configuration(connectTimeout: Duration = .seconds(20), tls: TLSConfiguration? = nil)
        -> WebSocketClient.Configuration
    {
        .init(connectTimeout: connectTimeout, closeTimeout: .seconds(20), tls: tls)
    }

    /// Text messages with characters of one to four bytes, so that fragments split characters.
    static let texts = (0..<12).map { i in "message \(i): héllo wörld — ✓ 𝄞 \(String(repeating: "ü", count: i * 7))" }

    func textFrames() -> [TestRelay.Frame] {
        Self.texts.enumerated().map {
            TestRelay.Frame(seq: Int64($0.offset + 1), bytes: Array($0.element.utf8), text: true)
        }
    }

    /// Reads every message until the relay closes or the session fails.
    func readAll(_ session: WebSocketSession) async throws -> [WebSocketMessage] {
        var messages: [WebSocketMessage] = []
        while let message = try await session.receive() { messages.append(message) }
        return messages
    }

    @Test func aRelayThatNeverAnswersTheUpgradeTimesOut() async throws {
        var faults = TestRelay.Faults()
        faults.stall = .upgrade
        let relay = try await TestRelay(messages: [], faults: faults)
        await #expect(throws: WebSocketError(.connectTimeout(stage: .upgrade, after: .milliseconds(300)))) {
            try await WebSocketClient.withConnection(
                to: WebSocketEndpoint(relay.url), configuration: configuration(connectTimeout: .milliseconds(300))
            ) { _ in }
        }
        #expect(relay.connections == 1)
        await relay.stop()
    }

    /// The relay takes the TCP connection and never answers the ClientHello; then one that
    /// finishes TLS and never answers the upgrade. The error says which step stalled.
    @Test(arguments: [(TestRelay.Stall.tlsHandshake, WebSocketError.ConnectStage.tls), (.upgrade, .upgrade)])
    func aStalledTLSConnectionTimesOutAtTheStepThatStalled(stall: TestRelay.Stall, stage: WebSocketError.ConnectStage)
        async throws
    {
        let authority = try TestCertificateAuthority()
        var faults = TestRelay.Faults()
        faults.stall = stall
        let relay = try await TestRelay(messages: [], faults: faults, tls: authority.server)
        await #expect(throws: WebSocketError(.connectTimeout(stage: stage, after: .milliseconds(500)))) {
            try await WebSocketClient.withConnection(
                to: WebSocketEndpoint(relay.url),
                configuration: configuration(connectTimeout: .milliseconds(500), tls: authority.client)
            ) { _ in }
        }
        await relay.stop()
    }

    @Test func wssWithATestCertificateAuthority() async throws {
        let authority = try TestCertificateAuthority()
        let relay = try await TestRelay(frames: textFrames(), tls: authority.server)
        #expect(relay.url.hasPrefix("wss://"))
        let messages = try await WebSocketClient.withConnection(
            to: WebSocketEndpoint(relay.url), configuration: configuration(tls: authority.client)
        ) { session in
            var messages: [WebSocketMessage] = []
            for _ in Self.texts { messages += [try #require(try await session.receive())] }
            return messages
        }
        #expect(messages == Self.texts.map { .text($0) })
        // A client that does not trust the authority refuses the relay's certificate.
        await #expect {
            try await WebSocketClient.withConnection(to: WebSocketEndpoint(relay.url), configuration: configuration()) {
                _ in
            }
        } throws: { error in
            guard case .connect? = (error as? WebSocketError)?.kind else { return false }
            return true
        }
        await relay.stop()
    }

    /// Every message in seven fragments with a ping between each two: the client joins them
    /// (checking UTF-8 on the whole, since fragments split characters) and answers every ping.
    @Test func fragmentedMessagesWithPingsBetweenTheFragments() async throws {
        var faults = TestRelay.Faults()
        faults.fragments = 7
        let relay = try await TestRelay(frames: textFrames(), faults: faults)
        let messages = try await WebSocketClient.withConnection(
            to: WebSocketEndpoint(relay.url), configuration: configuration()
        ) { session in
            var messages: [WebSocketMessage] = []
            for _ in Self.texts { messages += [try #require(try await session.receive())] }
            return messages
        }
        #expect(messages == Self.texts.map { .text($0) })
        #expect(relay.pingsSent >= Self.texts.count * 6)
        try await waitUntil("a pong for every ping") { relay.pongsReceived == relay.pingsSent }
        await relay.stop()
    }

    @Test func theRelaysCloseCodeAndReasonAreKeptAndEchoed() async throws {
        var faults = TestRelay.Faults()
        faults.closeAfter = 3
        faults.closeCode = 4001
        faults.closeReason = "maintenance ✓"
        let relay = try await TestRelay(frames: textFrames(), faults: faults)
        let (messages, close) = try await WebSocketClient.withConnection(
            to: WebSocketEndpoint(relay.url), configuration: configuration()
        ) { session in
            (try await readAll(session), session.closeReceived)
        }
        #expect(messages.count == 3)
        #expect(close == WebSocketClose(code: 4001, reason: "maintenance ✓"))
        #expect(close?.description == "4001: maintenance ✓")
        // The reply echoes the code; the relay, having started the close, reads it after.
        try await waitUntil("the reply") { relay.clientCloses.map(\.code) == [4001] }
        await relay.stop()
    }

    @Test func textThatIsNotUTF8FailsTheConnectionWith1007() async throws {
        var faults = TestRelay.Faults()
        faults.invalidTextAt = 2
        let relay = try await TestRelay(frames: textFrames(), faults: faults)
        await #expect(throws: WebSocketError(.invalidText)) {
            try await WebSocketClient.withConnection(to: WebSocketEndpoint(relay.url), configuration: configuration()) {
                session in _ = try await readAll(session)
            }
        }
        // The close handshake is over when the client returns: the relay has the close frame.
        #expect(relay.clientCloses.map(\.code) == [1007])
        await relay.stop()
    }

    @Test func aReservedBitFailsTheConnectionWith1002() async throws {
        var faults = TestRelay.Faults()
        faults.reservedBitAt = 3
        let relay = try await TestRelay(frames: textFrames(), faults: faults)
        await #expect {
            try await WebSocketClient.withConnection(to: WebSocketEndpoint(relay.url), configuration: configuration()) {
                session in _ = try await readAll(session)
            }
        } throws: { error in
            guard case .protocolViolation? = (error as? WebSocketError)?.kind else { return false }
            return true
        }
        #expect(relay.clientCloses.map(\.code) == [1002])
        await relay.stop()
    }

    /// A client that has what it wants says so (1000) and waits for the reply; one whose task is
    /// cancelled (shutdown) says it is going away (1001).
    @Test func endingAConnectionSendsACloseFrame() async throws {
        let relay = try await TestRelay(frames: textFrames())
        let first = try await WebSocketClient.withConnection(
            to: WebSocketEndpoint(relay.url), configuration: configuration()
        ) { session in try await session.receive() }
        #expect(first == .text(Self.texts[0]))
        #expect(relay.clientCloses.map(\.code) == [1000])

        let started = Counter()
        let task = Task {
            try await WebSocketClient.withConnection(to: WebSocketEndpoint(relay.url), configuration: configuration()) {
                session in
                while try await session.receive() != nil { started.add() }
            }
        }
        try await waitUntil("every message") { started.value == Self.texts.count }
        task.cancel()
        _ = await task.result
        #expect(relay.clientCloses.map(\.code) == [1000, 1001])
        await relay.stop()
    }

    /// A peer that never answers the close frame holds the client only for the close timeout.
    @Test func aPeerThatNeverAnswersTheCloseIsLeftAfterTheTimeout() async throws {
        var faults = TestRelay.Faults()
        faults.silenceAfter = 1
        let relay = try await TestRelay(frames: textFrames(), faults: faults)
        var configuration = configuration()
        configuration.closeTimeout = .milliseconds(100)
        let first = try await WebSocketClient.withConnection(
            to: WebSocketEndpoint(relay.url), configuration: configuration
        ) { session in try await session.receive() }
        #expect(first == .text(Self.texts[0]))
        try await waitUntil("the close frame") { relay.clientCloses.map(\.code) == [1000] }
        await relay.stop()
    }

    @Test func closeFramePayloads() throws {
        func payload(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }
        #expect(try WebSocketClose(payload: payload([])) == WebSocketClose(code: nil))
        #expect(try WebSocketClose(payload: payload([0x03, 0xe9])) == WebSocketClose(code: 1001))
        #expect(
            try WebSocketClose(payload: payload([0x0f, 0xa1] + Array("bye".utf8)))
                == WebSocketClose(code: 4001, reason: "bye"))
        for bad: [UInt8] in [[0x03], [0x03, 0xed], [0x03, 0xee], [0x00, 0x10], [0x03, 0xe8, 0xc3, 0x28]] {
            #expect(throws: WebSocketError.self) { try WebSocketClose(payload: payload(bad)) }
        }
        #expect(WebSocketClose(code: nil).description == "1005 (no status)")
        // A long reason is cut between characters, within a control frame's 125 bytes.
        let long = WebSocketClose.payload(code: 1000, reason: String(repeating: "✓", count: 60))
        #expect(long.readableBytes == 2 + 41 * 3)
        #expect(try WebSocketClose(payload: long).reason == String(repeating: "✓", count: 41))
    }
}

/// A count shared between a test and the task it watches.
final class Counter: Sendable {
    private let count = Mutex(0)
    func add() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
