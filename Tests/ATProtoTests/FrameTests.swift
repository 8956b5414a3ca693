import SeededRandom
import SyntheticFirehose
import Testing

@testable import ATProto

@Suite struct FrameTests {
    /// PROTOCOL §1's header bytes, byte for byte.
    @Test func headerBytes() {
        #expect(hexString(FrameCodec.encodeLabels(seq: 1, labels: []).prefix(15)) == "a2617467236c6162656c73626f7001")
        #expect(
            hexString(FrameCodec.encodeInfo(InfoMessage(name: "OutdatedCursor")).prefix(13))
                == "a2617465 23696e666f626f7001".replacingOccurrences(of: " ", with: ""))
        let error = FrameCodec.encodeError(ErrorMessage(error: "FutureCursor", message: "Cursor in the future."))
        #expect(
            hexString(error)
                == "a1626f7020"
                + "a2 65 6572726f72 6c 467574757265437572736f72 67 6d657373616765 75 437572736f7220696e20746865206675747572652e"
                .replacingOccurrences(of: " ", with: ""))
    }

    @Test func labelsFrameCarriesFullLabels() throws {
        let label = Label(
            src: "did:plc:n3timvoib5nau7gvwd6cshap", uri: "did:plc:44ybard66vv44zksje25o7dz", val: "spam",
            cts: "2024-10-23T17:51:19.128Z", sig: [UInt8](repeating: 7, count: 64))
        let frame = FrameCodec.encodeLabels(seq: 42, labels: [label])
        let (header, body) = try FrameCodec.split(frame[...])
        #expect(header == .message("#labels"))
        #expect(body["seq"] == .int(42))
        let decoded = try Label(cbor: try #require(body["labels"]?.arrayValue?.first))
        #expect(decoded == label)
        #expect(body.mapValue?.keys == ["seq", "labels"])  // canonical: seq before labels
    }

    @Test func errorAndUnknownFrames() throws {
        let decoder = RepoEventDecoder()
        guard case .error(let e) = try decoder.decode(FrameCodec.encodeError(ErrorMessage(error: "FutureCursor")))
        else {
            Issue.record("not an error frame")
            return
        }
        #expect(e.error == "FutureCursor")
        guard case .unknown(let t) = try decoder.decode(FrameCodec.encodeMessage(type: "#brandNew", body: ["x": 1]))
        else {
            Issue.record("not unknown")
            return
        }
        #expect(t == "#brandNew")
        let op2 = CBOREncoder.encode(.map(["op": 2])) + CBOREncoder.encode(.map([:]))
        guard case .unknown = try decoder.decode(op2) else {
            Issue.record("op 2 should be ignored as unknown")
            return
        }
        guard
            case .info(let info) = try decoder.decode(
                FrameCodec.encodeInfo(InfoMessage(name: "OutdatedCursor", message: "m")))
        else {
            Issue.record("not info")
            return
        }
        #expect(info == InfoMessage(name: "OutdatedCursor", message: "m"))
    }

    @Test func syntheticStreamDecodes() throws {
        var generator = SyntheticFirehose(seed: 7)
        let decoder = RepoEventDecoder()
        var commits = 0, records = 0, posts = 0, others = 0
        var lastSeq: Int64 = 0
        for message in generator.messages(3000) {
            let event = try decoder.decode(message)
            let seq = try #require(event.seq)
            #expect(seq > lastSeq)
            lastSeq = seq
            #expect(event.did.map { DID.isValid($0.rawValue) } == true)
            switch event {
            case .commit(let c):
                commits += 1
                for op in c.ops {
                    #expect(NSID.isValid(op.collection))
                    #expect(RecordKey.isValid(op.rkey))
                    if op.action == .delete {
                        #expect(op.cid == nil && op.record == nil)
                    } else {
                        let record = try #require(op.record)
                        records += 1
                        // The record is exactly the block its CID names.
                        #expect(CID.compute(for: CBOREncoder.encode(record)) == op.cid)
                        if op.collection == Collections.post { posts += 1 }
                    }
                }
            default: others += 1
            }
        }
        #expect(commits > 2800 && posts > 500 && others > 10)
        #expect(records > commits / 2)
    }

    @Test func recordDecodingFollowsTheCollectionFilter() throws {
        var generator = SyntheticFirehose(seed: 3)
        let decoder = RepoEventDecoder(decodesRecords: { $0 == Collections.post })
        for message in generator.messages(500) {
            guard case .commit(let c) = try decoder.decode(message) else { continue }
            for op in c.ops where op.action != .delete {
                #expect((op.record != nil) == (op.collection == Collections.post))
            }
        }
    }

    @Test func oversizedFrameIsRejectedBeforeDecoding() {
        let decoder = RepoEventDecoder(maxMessageSize: 100)
        #expect {
            _ = try decoder.decode([UInt8](repeating: 0, count: 101))
        } throws: { error in
            (error as? FrameError)?.kind == .tooLarge(size: 101, limit: 100)
        }
    }

    @Test func missingBodyAndTrailingBytes() {
        let decoder = RepoEventDecoder()
        let header = CBOREncoder.encode(.map(["t": "#info", "op": 1]))
        #expect { _ = try decoder.decode(header) } throws: { ($0 as? FrameError)?.kind == .missingBody }
        let frame = FrameCodec.encodeInfo(InfoMessage(name: "x")) + [0x00]
        #expect { _ = try decoder.decode(frame) } throws: { ($0 as? FrameError)?.kind == .trailingBytes(1) }
    }

    @Test func tamperedBlockRejectsOnlyThatEvent() throws {
        var generator = SyntheticFirehose(seed: 11)
        let decoder = RepoEventDecoder()
        var message: [UInt8] = []
        repeat {
            message = generator.next()
        } while message.count < 600 || !message.starts(with: hex("a2617467 23636f6d6d6974"))
        // Flip one byte near the end of the CAR (inside a record block's data, or the commit's).
        guard case .commit = try decoder.decode(message) else { Issue.record("expected a commit"); return }
        var tampered = message
        let (_, body) = try FrameCodec.split(message[...])
        let blocks = try #require(body["blocks"]?.bytesValue)
        tampered[blocks.endIndex - 3] ^= 0x01
        #expect {
            _ = try decoder.decode(tampered)
        } throws: { error in
            guard let e = error as? FrameError, case .blockMismatch = e.kind else { return false }
            return e.rejectsOnlyEvent
        }
        // With verification off the same message decodes (the check is what caught it).
        #expect(throws: Never.self) { try RepoEventDecoder(verifyBlocks: false).decode(tampered) }
    }

    @Test func commitObjectMustAgreeWithTheEvent() throws {
        var generator = SyntheticFirehose(seed: 5)
        var message: [UInt8] = []
        var body: CBORMap = [:]
        repeat {
            message = generator.next()
            let split = try FrameCodec.split(message[...])
            if split.0 == .message("#commit") { body = split.1.mapValue! }
        } while body.isEmpty
        let otherRepo = body.setting("repo", to: "did:plc:zzzzzzzzzzzzzzzzzzzzzzzz")
        let frame = FrameCodec.encodeMessage(type: "#commit", body: otherRepo)
        #expect {
            _ = try RepoEventDecoder().decode(frame)
        } throws: { error in
            (error as? FrameError)?.kind == .badCommit("its did does not match the event")
        }
        let badRev = FrameCodec.encodeMessage(type: "#commit", body: body.setting("rev", to: "3zzzzzzzzzzzz"))
        #expect(throws: FrameError.self) { try RepoEventDecoder().decode(badRev) }
        let badPath = body.setting("ops", to: [.map(["action": "create", "path": "not a path", "cid": .null])])
        #expect(throws: FrameError.self) {
            try RepoEventDecoder().decode(FrameCodec.encodeMessage(type: "#commit", body: badPath))
        }
        let badSeq = FrameCodec.encodeMessage(type: "#commit", body: body.setting("seq", to: 0))
        #expect(throws: FrameError.self) { try RepoEventDecoder().decode(badSeq) }
    }
}

/// Hostile input: nothing a peer sends may crash the decoder; every failure is a typed error.
/// The relay's `time` is read as a datetime; text that is not one leaves the event without a time
/// (the labeler then uses its own clock, as it always did) rather than losing the event.
@Suite struct EventTimeTests {
    func identityMessage(time: CBORValue?) throws -> [UInt8] {
        var generator = SyntheticFirehose(seed: 9)
        while true {
            let message = generator.next()
            guard case .message("#identity") = try FrameCodec.split(message[...]).0 else { continue }
            var body = try #require(FrameCodec.split(message[...]).1.mapValue)
            if let time {
                body = body.setting("time", to: time)
            } else {
                body = CBORMap(canonicalEntries: body.entries.filter { $0.key != CBORText("time") })
            }
            return FrameCodec.encodeMessage(type: "#identity", body: body)
        }
    }

    @Test func aValidTimeIsADatetime() throws {
        guard
            case .identity(let event) = try RepoEventDecoder().decode(
                try identityMessage(time: .text(CBORText("2026-01-02T03:04:05.678Z"))))
        else { throw DecodingFailed() }
        #expect(event.time == (try Datetime("2026-01-02T03:04:05.678Z")))
        #expect(event.time?.unixMicros == 1_767_323_045_678_000)
    }

    @Test func anUnreadableTimeKeepsTheEvent() throws {
        guard
            case .identity(let event) = try RepoEventDecoder().decode(
                try identityMessage(time: .text(CBORText("yesterday"))))
        else { throw DecodingFailed() }
        #expect(event.time == nil)
    }

    @Test func aMissingTimeIsMalformed() throws {
        #expect(throws: FrameError.self) { try RepoEventDecoder().decode(try identityMessage(time: nil)) }
    }

    struct DecodingFailed: Error {}
}

@Suite struct HostileInputTests {
    @Test func everyPrefixOfValidFramesFailsWithATypedError() throws {
        var generator = SyntheticFirehose(seed: 21)
        let decoder = RepoEventDecoder()
        var checked = 0
        for message in generator.messages(60) {
            _ = try decoder.decode(message)
            for length in 0..<message.count {
                do {
                    _ = try decoder.decode(message[0..<length])
                    Issue.record("prefix of \(length)/\(message.count) bytes decoded")
                } catch {
                    checked += 1
                }
            }
        }
        #expect(checked > 10_000)
    }

    @Test func seededRandomMutationsNeverCrash() throws {
        var generator = SyntheticFirehose(seed: 33)
        var rng = SplitMix64(seed: 99)
        let decoder = RepoEventDecoder()
        let messages = generator.messages(200)
        var rejected = 0
        var accepted = 0
        for round in 0..<20_000 {
            var m = messages[round % messages.count]
            let edits = 1 + Int(rng.next() % 4)
            for _ in 0..<edits {
                let position = Int(rng.next() % UInt64(m.count))
                switch rng.next() % 4 {
                case 0: m[position] ^= UInt8(truncatingIfNeeded: 1 << (rng.next() % 8))
                case 1: m[position] = UInt8(truncatingIfNeeded: rng.next())
                case 2: m.remove(at: position)
                default: m.insert(UInt8(truncatingIfNeeded: rng.next()), at: position)
                }
            }
            do {
                _ = try decoder.decode(m)
                accepted += 1
            } catch {
                rejected += 1
            }
        }
        #expect(rejected > 15_000)
        #expect(accepted + rejected == 20_000)
    }

    @Test func hugeDeclaredLengthsAreRejectedWithoutAllocating() {
        let decoder = RepoEventDecoder()
        let header = CBOREncoder.encode(.map(["t": "#commit", "op": 1]))
        for body in [
            hex("5b 7fffffffffffffff"), hex("9b 7fffffffffffffff"), hex("bb 7fffffffffffffff"), hex("7a ffffffff"),
        ] {
            #expect {
                _ = try decoder.decode(header + body)
            } throws: { error in
                (error as? FrameError)?.kind == .body(CBORError(.lengthExceedsInput, at: 0))
            }
        }
    }

    @Test func deepNestingInAFrameIsRejected() {
        let header = CBOREncoder.encode(.map(["t": "#commit", "op": 1]))
        let body = [UInt8](repeating: 0x81, count: 100_000) + [0]
        #expect {
            _ = try RepoEventDecoder().decode(header + body)
        } throws: { error in
            if case .body(let e) = (error as? FrameError)?.kind { return e.kind == .nestingTooDeep(limit: 64) }
            return false
        }
    }
}

@Suite struct LabelStreamMessageTests {
    @Test func decodesWhatTheServerEncodes() throws {
        let label = Label(
            src: "did:plc:l", uri: "at://did:plc:a/app.bsky.feed.post/1", val: "spam", neg: true,
            cts: "2026-01-01T00:00:00.000Z", sig: [UInt8](repeating: 7, count: 64))
        #expect(
            try LabelStreamMessage.decode(FrameCodec.encodeLabels(seq: 42, labels: [label])[...])
                == .labels(seq: 42, [label]))
        #expect(
            try LabelStreamMessage.decode(
                FrameCodec.encodeError(ErrorMessage(error: "FutureCursor", message: "ahead"))[...])
                == .error(ErrorMessage(error: "FutureCursor", message: "ahead")))
        #expect(
            try LabelStreamMessage.decode(FrameCodec.encodeInfo(InfoMessage(name: "OutdatedCursor"))[...])
                == .info(InfoMessage(name: "OutdatedCursor")))
        #expect(
            try LabelStreamMessage.decode(FrameCodec.encodeMessage(type: "#future", body: ["x": 1])[...])
                == .unknown(type: "#future"))
    }

    @Test func rejectsMalformedFrames() {
        let good = FrameCodec.encodeLabels(seq: 1, labels: [])
        #expect(throws: FrameError.self) { try LabelStreamMessage.decode(good.dropLast()) }
        #expect(throws: FrameError.self) { try LabelStreamMessage.decode((good + [0])[...]) }
        #expect(throws: FrameError.self) { try LabelStreamMessage.decode(good[...], maxSize: 3) }
        #expect(throws: FrameError.self) {
            try LabelStreamMessage.decode(FrameCodec.encodeMessage(type: "#labels", body: ["seq": 1])[...])
        }
        #expect(throws: FrameError.self) {
            try LabelStreamMessage.decode(
                FrameCodec.encodeMessage(type: "#labels", body: ["seq": 1, "labels": [.map(["uri": "x"])]])[...])
        }
        #expect(throws: FrameError.self) {
            try LabelStreamMessage.decode(FrameCodec.encodeMessage(type: "#labels", body: ["labels": []])[...])
        }
    }
}
