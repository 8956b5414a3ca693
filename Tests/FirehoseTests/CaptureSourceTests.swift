import ATProto
import Synchronization
import SyntheticFirehose
import Testing

@testable import Firehose

/// What a source delivered, in order.
final class Delivered: Sendable {
    private let state = Mutex<(seqs: [Int64], summaries: [String], rejected: [Int64], batches: [Int])>(([], [], [], []))
    func event(_ seq: Int64, _ event: RepoEvent) {
        state.withLock {
            $0.seqs.append(seq)
            $0.summaries.append("\(seq) \(event.did?.rawValue ?? "-") \(Self.opCount(event))")
        }
    }
    func rejected(_ seq: Int64) { state.withLock { $0.rejected.append(seq) } }
    func batch(_ size: Int) { state.withLock { $0.batches.append(size) } }
    var snapshot: (seqs: [Int64], summaries: [String], rejected: [Int64], batches: [Int]) { state.withLock { $0 } }

    static func opCount(_ event: RepoEvent) -> Int {
        if case .commit(let c) = event { c.ops.count(where: { $0.record != nil }) } else { 0 }
    }
}

@Suite struct CaptureSourceTests {
    /// A capture of synthetic messages plus an #info frame, a malformed message, a message with
    /// a tampered block, and a repeated seq.
    func writeCapture(_ dir: TemporaryDirectory) throws -> (path: String, tampered: Int64) {
        var generator = SyntheticFirehose(seed: 17, accounts: 40)
        var messages = generator.messages(700)
        var tamperedSeq: Int64 = 0
        for index in messages.indices {
            guard let (header, body) = try? FrameCodec.split(messages[index][...]), header == .message("#commit"),
                let blocks = body["blocks"]?.bytesValue, index > 300
            else { continue }
            messages[index][blocks.endIndex - 2] ^= 0xff
            tamperedSeq = body["seq"]?.intValue ?? 0
            break
        }
        messages.insert(FrameCodec.encodeInfo(InfoMessage(name: "OutdatedCursor")), at: 100)
        messages.insert([0xff, 0x00], at: 200)
        messages.insert(messages[400], at: 401)
        let path = dir.file("c.bin")
        let writer = try CaptureWriter(path: path)
        for m in messages { try writer.write(m) }
        try writer.flush()
        return (path, tamperedSeq)
    }

    func runOpened(_ source: CaptureSource, after cursor: Int64? = nil) async throws -> Delivered {
        let delivered = Delivered()
        try await source.run(resumeAfter: { cursor }) { event in
            switch event {
            case .event(let seq, let e, _): delivered.event(seq, e)
            case .rejected(let seq, _, _): delivered.rejected(seq)
            case .reset: Issue.record("a capture does not reset")
            }
        }
        return delivered
    }

    func runSealed(_ source: CaptureSource, after cursor: Int64? = nil) async throws -> Delivered {
        let delivered = Delivered()
        try await source.runSealed(resumeAfter: { cursor }) { batch in
            delivered.batch(batch.count)
            for sealed in batch {
                switch sealed {
                case .event(let envelope):
                    do { delivered.event(envelope.seq, try envelope.open()) } catch { delivered.rejected(envelope.seq) }
                case .rejected(let seq, _, _): delivered.rejected(seq)
                case .reset: Issue.record("a capture does not reset")
                }
            }
        }
        return delivered
    }

    /// Sealed delivery, opened by the consumer, gives exactly what `run` gives, in batches.
    @Test func sealedBatchesOpenToWhatRunDelivers() async throws {
        let dir = try TemporaryDirectory()
        let (path, tampered) = try writeCapture(dir)
        let decoder = RepoEventDecoder(decodesRecords: { $0 == Collections.post })
        let opened = CaptureSource(paths: [path], decoder: decoder)
        let sealed = CaptureSource(paths: [path], decoder: decoder, batchSize: 64)
        let expected = try await runOpened(opened).snapshot
        let got = try await runSealed(sealed).snapshot
        #expect(expected.seqs.count == 699 && expected.rejected == [tampered])
        #expect(got.seqs == expected.seqs)
        #expect(got.summaries == expected.summaries)
        #expect(got.rejected == expected.rejected)
        #expect(got.batches.allSatisfy { $0 >= 1 && $0 <= 64 } && got.batches.count >= 11)

        // The source's own counts agree, but for the rejection the consumer found.
        var counts = opened.counts
        #expect(counts.messages == 703 && counts.withoutSeq == 1 && counts.undecodable == 1 && counts.skippedSeqs == 1)
        #expect(counts.rejected == 1 && counts.events == 699)
        counts.rejected = 0
        counts.events = 700
        #expect(sealed.counts == counts)
    }

    @Test func sealedDeliveryResumesAfterTheCursor() async throws {
        let dir = try TemporaryDirectory()
        let (path, _) = try writeCapture(dir)
        let all = try await runOpened(CaptureSource(paths: [path])).snapshot.seqs
        let cursor = all[500]
        let got = try await runSealed(CaptureSource(paths: [path], batchSize: 7), after: cursor).snapshot
        #expect(got.seqs == Array(all[501...]))
        #expect(got.batches.allSatisfy { $0 <= 7 })
    }

    /// A source without its own sealed delivery hands over each event alone, already opened.
    @Test func theDefaultSealedDeliveryWrapsRun() async throws {
        struct OneEvent: EventSource {
            var cursorName: CursorName { "one" }
            func run(
                resumeAfter: @escaping @Sendable () async -> Int64?,
                deliver: @escaping @Sendable (SourceEvent) async throws -> Void
            ) async throws {
                var generator = SyntheticFirehose(seed: 3)
                for message in generator.messages(5) {
                    let event = try RepoEventDecoder().decode(message)
                    try await deliver(.event(seq: event.seq!, event, raw: message))
                }
            }
        }
        let delivered = Delivered()
        try await OneEvent().runSealed(resumeAfter: { nil }) { batch in
            delivered.batch(batch.count)
            for case .event(let envelope) in batch {
                #expect(envelope.message == nil)
                delivered.event(envelope.seq, try envelope.open())
            }
        }
        #expect(delivered.snapshot.batches == [1, 1, 1, 1, 1])
        #expect(delivered.snapshot.seqs.count == 5)
    }
}
