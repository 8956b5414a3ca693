import ATCrypto
import ATProto
import Firehose
import Foundation
import KeyedScheduler
import LabelStore
import Synchronization
import SyntheticFirehose
import TestRelay
import TestSupport
import Testing

@testable import Labeler

/// Records every handled event.
final class Handled: Sendable {
    private let state = Mutex<[(seq: Int64, did: String?)]>([])
    func add(_ seq: Int64, _ event: RepoEvent) { state.withLock { $0.append((seq, event.did?.rawValue)) } }
    var all: [(seq: Int64, did: String?)] { state.withLock { $0 } }
}

/// Runs `pipeline` with a label writer that stores its cursor, as the service does.
func runStoringCursor(
    _ pipeline: IngestPipeline, store: LabelStore, handler: @escaping IngestPipeline.Handler
) async throws -> IngestPipeline.Summary {
    let name = pipeline.source.cursorName
    let writer = try LabelWriter(
        store: store, src: "did:plc:labeler", key: .generate(.secp256k1), logger: quietLogger(), eventSource: name)
    let writing = Task { await writer.run() }
    let outcome = await Result {
        try await pipeline.run(
            handler: handler, cursorAdvanced: { writer.cursorAdvanced(to: $0) },
            restartSource: { try await writer.restartSource() })
    }
    writing.cancel()
    await writing.value
    return try outcome.get()
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}

@Suite struct IngestPipelineTests {
    static let messages: [[UInt8]] = {
        var generator = SyntheticFirehose(seed: 31, accounts: 50)
        return generator.messages(2000)
    }()

    func writeCapture() throws -> String {
        let path = temporaryPath("capture.bin")
        let writer = try CaptureWriter(path: path)
        for m in Self.messages { try writer.write(m) }
        try writer.flush()
        return path
    }

    @Test func replayHandlesEveryEventOnceInPerAccountOrder() async throws {
        let capture = try writeCapture()
        let store = try LabelStore(path: temporaryPath("labels.sqlite"))
        let handled = Handled()
        let source = CaptureSource(paths: [capture])
        let pipeline = IngestPipeline(
            source: source, store: store,
            configuration: .init(scheduler: .init(concurrency: 8, queueLimit: 64, perKeyBacklogLimit: 8)),
            logger: quietLogger())
        let summary = try await runStoringCursor(pipeline, store: store) { seq, event in
            // Uneven work so accounts overtake each other.
            if seq % 7 == 0 { try await Task.sleep(for: .microseconds(200)) }
            handled.add(seq, event)
        }
        let seqs = Self.messages.compactMap { try? RepoEventDecoder().decode($0).seq }
        #expect(summary.events == seqs.count)
        #expect(handled.all.map(\.seq).sorted() == seqs)
        // Per account, handled in stream order.
        var lastByDID: [String: Int64] = [:]
        for (seq, did) in handled.all {
            let key = did ?? ""
            #expect(seq > lastByDID[key, default: 0])
            lastByDID[key] = seq
        }
        #expect(summary.finalCursor == seqs.last)
        #expect(try store.cursor(for: "capture") == seqs.last)
        #expect(try store.journalMode() == "wal")

        // A second run resumes after the stored cursor: nothing is handled again.
        let again = Handled()
        let second = IngestPipeline(source: CaptureSource(paths: [capture]), store: store, logger: quietLogger())
        let secondSummary = try await runStoringCursor(second, store: store) { seq, event in again.add(seq, event) }
        #expect(again.all.isEmpty)
        #expect(secondSummary.events == 0)
    }

    @Test func thePipelineWritesNothingItself() async throws {
        let store = try LabelStore(path: temporaryPath("labels.sqlite"))
        let pipeline = IngestPipeline(
            source: CaptureSource(paths: [try writeCapture()]), store: store, logger: quietLogger())
        let summary = try await pipeline.run { _, _ in }
        #expect(try store.cursor(for: "capture") == nil)
        #expect(pipeline.lowWaterMark == summary.finalCursor && summary.finalCursor != nil)
    }

    @Test func aFailingHandlerIsIsolatedAndTheCursorPassesIt() async throws {
        let capture = try writeCapture()
        let handled = Handled()
        let pipeline = IngestPipeline(source: CaptureSource(paths: [capture]), store: nil, logger: quietLogger())
        let summary = try await pipeline.run { seq, event in
            if seq % 10 == 3 { throw CancellationError() }
            handled.add(seq, event)
        }
        let seqs = Self.messages.compactMap { try? RepoEventDecoder().decode($0).seq }
        #expect(summary.failed == seqs.filter { $0 % 10 == 3 }.count)
        #expect(handled.all.count == seqs.count - summary.failed)
        #expect(summary.finalCursor == seqs.last)
    }

    /// Events decoded by the workers: one with a tampered block is rejected, one with a bad field
    /// (but a readable seq) is skipped as undecodable; both are counted, neither reaches the
    /// handler, and the cursor passes them.
    @Test func eventsThatDoNotDecodeAreCountedAndTheCursorPassesThem() async throws {
        var messages = Self.messages
        var spoiled: [Int64] = []
        for index in messages.indices where index % 500 == 250 {
            var i = index
            while true {
                guard case .message("#commit") = try FrameCodec.split(messages[i][...]).0 else {
                    i += 1
                    continue
                }
                let body = try #require(FrameCodec.split(messages[i][...]).1.mapValue)
                if spoiled.count % 2 == 0 {
                    let blocks = try #require(body["blocks"]?.bytesValue)
                    messages[i][blocks.endIndex - 2] ^= 0xff
                } else {
                    messages[i] = FrameCodec.encodeMessage(type: "#commit", body: body.setting("rev", to: 5))
                }
                spoiled.append(try #require(body["seq"]?.intValue))
                break
            }
        }
        let path = temporaryPath("capture.bin")
        let writer = try CaptureWriter(path: path)
        for m in messages { try writer.write(m) }
        try writer.flush()

        let store = try LabelStore(path: temporaryPath("labels.sqlite"))
        let handled = Handled()
        let pipeline = IngestPipeline(
            source: CaptureSource(paths: [path], batchSize: 16), store: store,
            configuration: .init(scheduler: .init(concurrency: 4, queueLimit: 100, perKeyBacklogLimit: 10)),
            logger: quietLogger())
        let summary = try await runStoringCursor(pipeline, store: store) { seq, event in handled.add(seq, event) }
        let seqs = Self.messages.compactMap { try? RepoEventDecoder().decode($0).seq }
        #expect(spoiled.count == 4)
        #expect(summary.rejected == 2 && summary.undecodable == 2)
        #expect(summary.events == seqs.count - 4)
        #expect(handled.all.map(\.seq).sorted() == seqs.filter { !spoiled.contains($0) })
        #expect(summary.finalCursor == seqs.last)
        #expect(try store.cursor(for: "capture") == seqs.last)
    }

    @Test func liveRelayWithDropsHandlesEachEventExactlyOnce() async throws {
        var faults = TestRelay.Faults()
        faults.dropAfter = 150
        faults.corruptEvery = 401
        let relay = try await TestRelay(messages: Self.messages, faults: faults)
        let source = try RelaySource(
            configuration: .init(
                url: relay.url, backoff: Backoff(initial: .milliseconds(5), maximum: .milliseconds(50))),
            logger: quietLogger())
        let store = try LabelStore(path: temporaryPath("labels.sqlite"))
        let handled = Handled()
        let pipeline = IngestPipeline(source: source, store: store, logger: quietLogger())
        let seqs = Self.messages.compactMap { try? RepoEventDecoder().decode($0).seq }
        let task = Task { try await runStoringCursor(pipeline, store: store) { seq, event in handled.add(seq, event) } }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(90)
        while handled.all.count < seqs.count && clock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        task.cancel()
        let summary = try await task.value
        #expect(handled.all.map(\.seq).sorted() == seqs)
        #expect(Set(handled.all.map(\.seq)).count == handled.all.count)  // no duplicates
        #expect(summary.finalCursor == seqs.last)
        #expect(try store.cursor(for: source.cursorName) == seqs.last)
        #expect(source.metrics.snapshot.decodeErrors > 0)
        await relay.stop()
    }

    @Test func storeCursorRoundTrip() throws {
        let store = try LabelStore(path: temporaryPath("c.sqlite"))
        #expect(try store.cursor(for: "relay x") == nil)
        func save(_ cursor: Int64?, restart: Bool = false) throws {
            let epoch = try store.snapshotNow(of: [], src: "did:plc:l").epoch
            _ = try store.commitNow(
                LabelTransaction(
                    src: "did:plc:l", time: Datetime.now(), keyID: 0, epoch: epoch,
                    cursor: cursor.map { (name: "relay x", seq: $0) },
                    restartedSource: restart ? "relay x" : nil))
        }
        try save(42)
        try save(43)
        #expect(try store.cursor(for: "relay x") == 43)
        try save(nil, restart: true)
        #expect(try store.cursor(for: "relay x") == nil)
        #expect(throws: LabelStore.Error.self) { try LabelStore(path: "/nonexistent-dir/x.sqlite") }
    }
}
