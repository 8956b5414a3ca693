import SeededRandom
import SyntheticFirehose
import Testing

@testable import ATProto

/// The envelope (seq and account, read without decoding) against the full decode.
@Suite struct EnvelopeTests {
    /// What a decoded event is, for comparing two decodes of one message.
    func summary(_ event: RepoEvent) -> String {
        switch event {
        case .commit(let c):
            "commit \(c.seq) \(c.repo) \(c.rev) "
                + c.ops.map { "\($0.action) \($0.path) \(String(describing: $0.cid)) \(String(describing: $0.record))" }
                .joined(separator: "; ")
        case .sync(let s): "sync \(s.seq) \(s.did) \(s.rev) \(String(describing: s.commit))"
        case .identity(let i): "identity \(i.seq) \(i.did) \(i.handle ?? "-")"
        case .account(let a): "account \(a.seq) \(a.did) \(a.active) \(a.status ?? "-")"
        case .info(let i): "info \(i.name)"
        case .error(let e): "error \(e.error)"
        case .unknown(let t): "unknown \(t)"
        }
    }

    @Test func envelopeAgreesWithTheFullDecodeOnTheSyntheticFirehose() throws {
        var generator = SyntheticFirehose(seed: 41)
        let decoder = RepoEventDecoder()
        var kinds: Set<String> = []
        for message in generator.messages(3000) {
            let event = try decoder.decode(message)
            let envelope = try #require(decoder.envelope(of: message))
            #expect(envelope.seq == event.seq)
            #expect(envelope.did == event.did?.rawValue)
            #expect(envelope.message == message[...])
            #expect(summary(try envelope.open()) == summary(event))
            kinds.insert(String(summary(event).prefix(while: { $0 != " " })))
        }
        #expect(kinds.isSuperset(of: ["commit", "identity", "account", "sync"]))
    }

    @Test func opensWithTheDecodersRecordFilter() throws {
        var generator = SyntheticFirehose(seed: 43)
        let decoder = RepoEventDecoder(decodesRecords: { $0 == Collections.post })
        for message in generator.messages(300) {
            guard case .commit(let c) = try #require(decoder.envelope(of: message)).open() else { continue }
            for op in c.ops where op.action != .delete {
                #expect((op.record != nil) == (op.collection == Collections.post))
            }
        }
    }

    @Test func framesWithoutASeqHaveNoEnvelope() {
        let decoder = RepoEventDecoder()
        #expect(decoder.envelope(of: FrameCodec.encodeInfo(InfoMessage(name: "OutdatedCursor"))) == nil)
        #expect(decoder.envelope(of: FrameCodec.encodeError(ErrorMessage(error: "FutureCursor"))) == nil)
        #expect(decoder.envelope(of: FrameCodec.encodeMessage(type: "#brandNew", body: ["x": 1])) == nil)
        #expect(decoder.envelope(of: [0xff, 0x00]) == nil)
        #expect(RepoEventDecoder(maxMessageSize: 10).envelope(of: [UInt8](repeating: 0xa0, count: 11)) == nil)
    }

    /// A block that does not match its CID leaves the envelope readable: opening it rejects the event.
    @Test func aTamperedBlockIsFoundWhenOpening() throws {
        var generator = SyntheticFirehose(seed: 11)
        let decoder = RepoEventDecoder()
        var message: [UInt8] = []
        repeat {
            message = generator.next()
        } while message.count < 600 || !message.starts(with: hex("a2617467 23636f6d6d6974"))
        let (_, body) = try FrameCodec.split(message[...])
        let blocks = try #require(body["blocks"]?.bytesValue)
        message[blocks.endIndex - 3] ^= 0x01
        let envelope = try #require(decoder.envelope(of: message))
        #expect(envelope.seq == body["seq"]?.intValue)
        #expect {
            _ = try envelope.open()
        } throws: { error in
            guard let e = error as? FrameError, case .blockMismatch = e.kind else { return false }
            return e.rejectsOnlyEvent
        }
    }

    /// Whatever the bytes, reading an envelope never crashes, and when the message decodes the
    /// envelope is there and says what the event says.
    @Test func mutatedAndTruncatedMessagesNeverDisagree() throws {
        var generator = SyntheticFirehose(seed: 45)
        var rng = SplitMix64(seed: 7)
        let decoder = RepoEventDecoder()
        let messages = generator.messages(100)
        var decoded = 0
        for round in 0..<10_000 {
            var m = messages[round % messages.count]
            if round % 5 == 0 {
                m = Array(m.prefix(Int(rng.next() % UInt64(m.count))))
            } else {
                for _ in 0..<(1 + Int(rng.next() % 3)) {
                    m[Int(rng.next() % UInt64(m.count))] = UInt8(truncatingIfNeeded: rng.next())
                }
            }
            let envelope = decoder.envelope(of: m)
            guard let event = try? decoder.decode(m), let seq = event.seq else {
                // The envelope may still be read; opening it must then fail.
                if let envelope { #expect(throws: FrameError.self) { try envelope.open() } }
                continue
            }
            decoded += 1
            #expect(envelope?.seq == seq)
            #expect(envelope?.did == event.did?.rawValue)
        }
        #expect(decoded > 100)
    }

    @Test func aDecodedEventOpensAsItself() throws {
        var generator = SyntheticFirehose(seed: 47)
        let event = try RepoEventDecoder().decode(generator.next())
        let envelope = RepoEventEnvelope(decoded: event)
        #expect(envelope.seq == event.seq && envelope.did == event.did?.rawValue && envelope.message == nil)
        #expect(summary(try envelope.open()) == summary(event))
    }
}
