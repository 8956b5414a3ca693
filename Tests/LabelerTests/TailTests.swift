import ATCrypto
import ATProto
import Foundation
import TestRelay
import TestSupport
import Testing

/// `labeler labels tail` against an in-process server sending `#labels` frames.
@Suite struct TailTests {
    static func frames(count: Int, key: SigningKey, tamperWith tampered: Int? = nil) throws -> [[UInt8]] {
        try (1...count).map { seq in
            var label = try Label(
                src: key.publicKey.didKey, uri: "at://did:plc:a/app.bsky.feed.post/\(seq)", val: "spam",
                cts: "2026-01-01T00:00:00.000Z"
            ).signed(with: key)
            if seq == tampered { label.val = "not-what-was-signed" }
            return FrameCodec.encodeLabels(seq: Int64(seq), labels: [label])
        }
    }

    @Test(.timeLimit(.minutes(1))) func tailPrintsAndVerifiesEveryLabelFromACursor() async throws {
        let key = SigningKey.generate(.secp256k1)
        let relay = try await TestRelay(messages: try Self.frames(count: 20, key: key))
        defer { Task { await relay.stop() } }
        let folder = FileManager.default.temporaryDirectory.path
        let tail = try ServiceProcess(
            ["labels", "tail", relay.url, "--cursor", "5", "--verify", "--json", "--limit", "15"], in: folder,
            environment: [:],
            log: folder + "/tail-\(UUID().uuidString).log")
        #expect(await tail.wait(timeout: .seconds(30)) == 0, "\(tail.logText)")
        let lines = tail.logText.split(separator: "\n").filter { $0.hasPrefix("{") }
        #expect(lines.count == 15)
        #expect(lines.first?.contains("post/6\"") == true)
        #expect(tail.logText.contains("15 labels, every signature verified"))
        #expect(relay.requestedCursors.first == 5)
        // Stopping at --limit closes with a close frame (the relay may read it after the tail
        // has gone, on a busy machine).
        try await waitUntil("the close frame") { relay.clientCloses.map(\.code) == [1000] }
    }

    @Test(.timeLimit(.minutes(1))) func aLabelThatDoesNotVerifyFailsTheTail() async throws {
        let key = SigningKey.generate(.p256)
        let relay = try await TestRelay(messages: try Self.frames(count: 6, key: key, tamperWith: 4))
        defer { Task { await relay.stop() } }
        let folder = FileManager.default.temporaryDirectory.path
        let tail = try ServiceProcess(
            ["labels", "tail", relay.url, "--cursor", "0", "--verify", "--key", key.publicKey.didKey, "--limit", "6"],
            in: folder,
            environment: [:], log: folder + "/tail-\(UUID().uuidString).log")
        #expect(await tail.wait(timeout: .seconds(30)) == 1)
        #expect(tail.logText.contains("seq 4: signature does not verify"), "\(tail.logText)")
        #expect(tail.logText.contains("1 of 6 labels did not verify"))
    }

    @Test(.timeLimit(.minutes(1))) func tailReconnectsAfterTheLastSeqWithoutRepeats() async throws {
        let key = SigningKey.generate(.secp256k1)
        var faults = TestRelay.Faults()
        faults.dropAfter = 7
        let relay = try await TestRelay(messages: try Self.frames(count: 20, key: key), faults: faults)
        defer { Task { await relay.stop() } }
        let folder = FileManager.default.temporaryDirectory.path
        let tail = try ServiceProcess(
            ["labels", "tail", relay.url, "--cursor", "0", "--json", "--limit", "20"], in: folder, environment: [:],
            log: folder + "/tail-\(UUID().uuidString).log")
        #expect(await tail.wait(timeout: .seconds(45)) == 0, "\(tail.logText)")
        let uris = tail.logText.split(separator: "\n").filter { $0.hasPrefix("{") }.compactMap { line in
            line.range(of: "post/").map { line[$0.upperBound...].prefix { $0.isNumber } }
        }
        #expect(uris.map { Int($0)! } == Array(1...20))
        #expect(relay.requestedCursors == [0, 7, 14])
    }
}
