import ATCrypto
import ATProto
import LabelStore
import Testing

@testable import Labeler

@Suite struct LabelWriterTests {
    @Test func concurrentSubmittersGetTheirRowsAndEverySignatureVerifies() async throws {
        let store = try LabelStore(path: temporaryPath("labels.sqlite"))
        let key = SigningKey.generate(.secp256k1)
        let mark = Locked<Int64>(0)
        let writer = try LabelWriter(
            store: store, src: "did:plc:labeler", key: key, logger: quietLogger(),
            cursor: { (name: "relay test", seq: mark.value) })
        let run = Task { await writer.run() }
        try await withThrowingTaskGroup(of: [StoredLabel].self) { group in
            for task in 0..<16 {
                group.addTask {
                    var mine: [StoredLabel] = []
                    for n in 0..<25 {
                        let change = LabelChange(
                            action: .apply, uri: "at://did:plc:a\(task)/app.bsky.feed.post/\(n)", val: "spam",
                            origin: .rule(id: "r"))
                        let rows = try await writer.submit([change, change])  // the repeat is a no-op
                        mine += rows
                        mark.withLock { $0 = max($0, Int64(task * 100 + n)) }
                    }
                    return mine
                }
            }
            var all: [StoredLabel] = []
            for try await rows in group {
                #expect(rows.count == 25)
                all += rows
            }
            #expect(Set(all.map(\.seq)).count == 400)
        }
        run.cancel()
        await run.value
        let stored = try store.labels(after: 0, limit: 1000)
        #expect(stored.count == 400)
        #expect(stored.allSatisfy { $0.label.verifySignature(with: key.publicKey) })
        #expect(stored.map(\.seq) == stored.map(\.seq).sorted())
        #expect(try store.cursor(for: "relay test") != nil)
        #expect(writer.totals.labels == 400)
        #expect(writer.totals.batches < 400)  // grouped: fewer transactions than submissions
        await #expect(throws: LabelWriter.Stopped.self) {
            try await writer.submit([LabelChange(action: .apply, uri: "did:plc:x", val: "late", origin: .rule(id: "r"))])
        }
    }
}
