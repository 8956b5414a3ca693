import ATCrypto
import ATProto
import Firehose
import LabelServer
import LabelStore
import Synchronization
import TestSupport
import Testing

@Suite struct SubscribeLabelsTests {
    /// Labels are written without pause while subscribers backfill from 0 (in small batches, with a
    /// small recent-frames cache, so both the store path and the cache path are crossed many
    /// times): each receives every seq exactly once, in order.
    @Test func backfillCutOverUnderContinuousWritesLosesAndRepeatsNothing() async throws {
        try await Harness.with(configure: {
            $0.backfillBatchSize = 37
            $0.recentFrames = 50
        }) { h in
            let total = 3000
            try await h.apply(300)
            let writing = Task {
                var n = 300
                while n < total {
                    let size = min(7, total - n)
                    try await h.apply(size, from: n)
                    n += size
                }
            }
            let results = try await withThrowingTaskGroup(of: [Int64].self) { group in
                // Staggered by the writer's progress, not by time, so the three join at different
                // points of the stream however busy the machine is.
                for joinAt in [Int64(0), 900, 1800] {
                    group.addTask {
                        try await waitUntil("seq \(joinAt) stored") { try h.store.lastLabelSeq() >= joinAt }
                        return try await h.subscribe(cursor: "0") { session in
                            try await session.seqs(through: 3000).map(\.seq)
                        }
                    }
                }
                try await writing.value
                var all: [[Int64]] = []
                for try await seqs in group { all.append(seqs) }
                return all
            }
            let stored = try h.store.labels(after: 0, limit: 10_000).map(\.seq)
            #expect(stored.count == total)
            #expect(stored.last == Int64(total))
            for seqs in results {
                #expect(seqs == stored)
            }
        }
    }

    /// A live-only subscriber gets exactly the rows committed after it connected, none before.
    @Test func withoutCursorOnlyNewLabelsArrive() async throws {
        try await Harness.with { h in
            try await h.apply(20)
            let received = try await h.subscribe(cursor: nil) { session in
                // Written once the server has read the head for this subscriber.
                try await waitUntil("a live subscriber") { h.server.liveSubscriberCount == 1 }
                try await h.apply(5, from: 100)
                return try await session.seqs(through: 25)
            }
            #expect(received.map(\.seq) == [21, 22, 23, 24, 25])
            #expect(received.map(\.label.uri).allSatisfy { $0.hasPrefix("at://did:plc:alice/") })
        }
    }

    /// The error frame arrives, then the server closes the connection: this client does not
    /// close by itself, so the server waits `errorFrameTimeout` for it first.
    @Test func cursorAboveTheHeadGetsFutureCursorAndIsClosed() async throws {
        try await Harness.with(configure: { $0.errorFrameTimeout = .seconds(5) }) { h in
            try await h.apply(3)
            try await h.subscribe(cursor: "4") { session in
                let first = try await session.nextFrame()
                let second = try await session.nextFrame()
                #expect(first == .error("FutureCursor", "Cursor in the future."))
                #expect(second == nil)
            }
            // At the head exactly is not in the future: nothing to replay.
            try await h.subscribe(cursor: "3") { session in
                try await h.apply(1, from: 10)
                #expect(try await session.seqs(through: 4).map(\.seq) == [4])
            }
        }
    }

    @Test(arguments: ["abc", "-1", "1.5", "", "99999999999999999999"])
    func malformedCursorGetsAnErrorFrameAndIsClosed(cursor: String) async throws {
        try await Harness.with(configure: { $0.errorFrameTimeout = .seconds(5) }) { h in
            try await h.subscribe(cursor: cursor) { session in
                let frame = try await session.nextFrame()
                guard case .error(let error, _) = frame else {
                    Issue.record("expected an error frame, got \(String(describing: frame))")
                    return
                }
                #expect(error == "InvalidRequest")
                let next = try await session.nextFrame()
                #expect(next == nil)
            }
        }
    }

    /// A subscriber that stops reading falls behind and is dropped with `ConsumerTooSlow`, while
    /// one that reads receives everything.
    @Test func slowConsumerIsDroppedWhileAFastOneKeepsUp() async throws {
        try await Harness.with(configure: {
            $0.maxSubscriberLag = 1_000  // room for the fast one on a busy machine; the slow one never reads
            // The slow one does not read, so it cannot answer pings either: on a loaded machine the
            // ping timeout would close it (resetting what it had not read) before the lag drops it.
            $0.pingInterval = .seconds(600)
        }) { h in
            // Large frames fill the socket buffers quickly.
            let prefix = "at://did:plc:" + String(repeating: "k", count: 1500) + "/app.bsky.feed.post/"
            let total = 6000
            try await h.subscribe(cursor: nil, silenceTimeout: .seconds(600)) { slow in
                try await h.subscribe(cursor: nil) { fast in
                    // Both are live-only: they get what is committed once they are live.
                    try await waitUntil("two live subscribers") { h.server.liveSubscriberCount == 2 }
                    let fastProgress = ProgressMark()
                    let writing = Task {
                        for start in stride(from: 0, to: total, by: 100) {
                            // The fast subscriber is kept within a few hundred of the head however
                            // busy the machine is; the slow one reads nothing and falls behind.
                            while fastProgress.value < Int64(start) - 300 {
                                try await Task.sleep(for: .milliseconds(5))
                            }
                            try await h.apply(100, prefix: prefix, from: start)
                        }
                    }
                    var received: [Int64] = []
                    while received.last.map({ $0 < Int64(total) }) ?? true {
                        guard case .labels(let seq, _)? = try await fast.nextFrame() else { break }
                        received.append(seq)
                        fastProgress.set(seq)
                    }
                    try await writing.value
                    #expect(received == Array(1...Int64(total)))
                }
                // The slow subscriber is dropped; once it reads again it finds the frames that
                // were buffered, then the error frame, then the end of the connection.
                try await waitUntil("the slow subscriber dropped") {
                    h.metricValue("labeler_slow_consumer_drops_total") >= 1
                }
                #expect(h.metricValue("labeler_slow_consumer_drops_total") == 1)
                var labels = 0
                var lastFrame: StreamFrame?
                while let frame = try await slow.nextFrame() {
                    if case .labels = frame { labels += 1 } else { lastFrame = frame }
                }
                #expect(labels < total)
                #expect(lastFrame == .error("ConsumerTooSlow", "Subscriber fell too far behind."))
            }
        }
    }

    @Test func subscribersAboveTheCapAreRefusedWith503() async throws {
        try await Harness.with(configure: { $0.maxSubscribers = 2 }) { h in
            try await h.subscribe(cursor: nil) { _ in
                try await h.subscribe(cursor: nil) { _ in
                    // Both registered once their streams run; wait for that.
                    try await waitUntil("two subscribers") { h.server.subscriberCount == 2 }
                    await #expect(throws: WebSocketError(.http(status: 503, retryAfter: 30))) {
                        try await h.subscribe(cursor: nil) { _ in }
                    }
                    // The same request as the upgrade, seen over plain HTTP: the JSON error body.
                    let response = try await h.request(
                        "/xrpc/com.atproto.label.subscribeLabels",
                        headers: [
                            .upgrade: "websocket", .connection: "upgrade", .secWebSocketVersion: "13",
                            .secWebSocketKey: "dGhlIHNhbXBsZSBub25jZQ==",
                        ])
                    #expect(response.status == .serviceUnavailable)
                    #expect(response.xrpcError == "ServiceUnavailable")
                }
            }
            // Places free up when subscribers leave.
            try await waitUntil("the subscribers gone") { h.server.subscriberCount == 0 }
            try await h.subscribe(cursor: "0") { session in
                try await h.apply(1)
                #expect(try await session.seqs(through: 1).map(\.seq) == [1])
            }
        }
    }

    /// The server pings; a client that answers nothing (it never reads) is closed.
    @Test func aClientThatStopsAnsweringPingsIsClosed() async throws {
        try await Harness.with(configure: { $0.pingInterval = .milliseconds(300) }) { h in
            try await h.subscribe(cursor: nil) { session in
                // Registered at some point (on a busy machine it may be closed again before this
                // task looks, so the count of connections, which never goes down, is what to wait for).
                try await waitUntil("the subscriber registered") {
                    h.metricValue("labeler_subscriber_connections_total") >= 1
                }
                // Not reading means not answering the pings: the server closes the connection
                // after an unanswered ping, and the subscriber leaves.
                try await waitUntil("the silent subscriber closed") { h.server.subscriberCount == 0 }
                // The server closed it: reading now finds the end of the connection.
                var ended = false
                do {
                    while try await session.receive() != nil {}
                    ended = true
                } catch {
                    ended = true
                }
                #expect(ended)
            }
        }
    }

    @Test func plainGetOfTheStreamAsksForAnUpgrade() async throws {
        try await Harness.with { h in
            let response = try await h.request("/xrpc/com.atproto.label.subscribeLabels")
            #expect(response.status == .upgradeRequired)
            #expect(response.xrpcError == "InvalidRequest")
        }
    }
}

extension Harness {
    /// The value of an unlabelled sample in `/metrics`, read from the registry.
    func metricValue(_ name: String) -> Double {
        for line in metrics.render().split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.split(separator: " ")[1]) ?? -1
        }
        return -1
    }
}

/// The newest seq a reader has, shared with the task that paces the writes.
final class ProgressMark: Sendable {
    private let seq = Atomic<Int64>(0)
    var value: Int64 { seq.load(ordering: .relaxed) }
    func set(_ value: Int64) { seq.store(value, ordering: .relaxed) }
}
