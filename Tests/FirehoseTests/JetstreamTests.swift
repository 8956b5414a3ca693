import ATProto
import CZstd
import Logging
import SyntheticFirehose
import TestRelay
import Testing

@testable import Firehose

/// Jetstream v1 JSON events made from synthetic relay events (one per op), `time_us` increasing.
func jetstreamEvents(count: Int, seed: UInt64 = 8) -> [(seq: Int64, json: String)] {
    var generator = SyntheticFirehose(seed: seed)
    let decoder = RepoEventDecoder()
    var out: [(Int64, String)] = []
    var time: Int64 = 1_725_911_162_329_308
    while out.count < count {
        guard let event = try? decoder.decode(generator.next()) else { continue }
        time += 1 + Int64(out.count % 7)
        switch event {
        case .commit(let c):
            for op in c.ops {
                var commit: [(String, CBORValue)] = [
                    ("rev", .text(CBORText(c.rev))), ("operation", .text(CBORText(op.action.rawValue))),
                    ("collection", .text(CBORText(op.collection))), ("rkey", .text(CBORText(op.rkey))),
                ]
                if let record = op.record { commit.append(("record", record)) }
                if let cid = op.cid { commit.append(("cid", .text(CBORText(cid.string)))) }
                let json = DataModelJSON.serialize(
                    .map([
                        "did": .text(CBORText(c.repo.rawValue)), "time_us": .int(time), "kind": "commit",
                        "commit": .map(CBORMap(commit)),
                    ]))
                out.append((time, json))
                time += 1
            }
        case .identity(let e):
            var body: [(String, CBORValue)] = [
                ("did", .text(CBORText(e.did.rawValue))), ("seq", .int(e.seq)),
                ("time", .text(CBORText(e.timeText))),
            ]
            if let h = e.handle { body.append(("handle", .text(CBORText(h)))) }
            out.append(
                (
                    time,
                    DataModelJSON.serialize(
                        .map([
                            "did": .text(CBORText(e.did.rawValue)), "time_us": .int(time), "kind": "identity",
                            "identity": .map(CBORMap(body)),
                        ]))
                ))
        case .account(let e):
            var body: [(String, CBORValue)] = [
                ("did", .text(CBORText(e.did.rawValue))), ("seq", .int(e.seq)),
                ("time", .text(CBORText(e.timeText))),
                ("active", .bool(e.active)),
            ]
            if let s = e.status { body.append(("status", .text(CBORText(s)))) }
            out.append(
                (
                    time,
                    DataModelJSON.serialize(
                        .map([
                            "did": .text(CBORText(e.did.rawValue)), "time_us": .int(time), "kind": "account",
                            "account": .map(CBORMap(body)),
                        ]))
                ))
        default:
            continue
        }
    }
    return Array(out.prefix(count))
}

@Suite struct JetstreamDecoderTests {
    let decoder = JetstreamEventDecoder()

    @Test func protocolExampleShapes() throws {
        let create =
            #"{"did":"did:plc:eygmaihciaxprqvxpfvl6flk","time_us":1725911162329308,"kind":"commit","commit":{"rev":"3l3qo2vutsw2b","operation":"create","collection":"app.bsky.feed.like","rkey":"3l3qo2vuowo2b","record":{"$type":"app.bsky.feed.like","createdAt":"2024-09-09T19:46:02.102Z","subject":{"cid":"bafyreidc6sydkkbchcyg62v77wbhzvb2mvytlmsychqgwf2xojjtirmzj4","uri":"at://did:plc:wa7b35aakoll7hugkrjtf3xf/app.bsky.feed.post/3l3pte3p2e325"}},"cid":"bafyreidwaivazkwu67xztlmuobx35hs2lnfh3kolmgfmucldvhd3sgzcqi"}}"#
        guard case .commit(let c) = try decoder.decode(create) else { Issue.record("not a commit"); return }
        #expect(
            c.seq == 1_725_911_162_329_308 && c.repo.rawValue == "did:plc:eygmaihciaxprqvxpfvl6flk" && c.commit == nil)
        #expect(c.ops.count == 1 && c.ops[0].action == .create && c.ops[0].collection == "app.bsky.feed.like")
        #expect(c.ops[0].cid?.string == "bafyreidwaivazkwu67xztlmuobx35hs2lnfh3kolmgfmucldvhd3sgzcqi")
        #expect(
            c.ops[0].record?["subject"]?["uri"]?.stringValue
                == "at://did:plc:wa7b35aakoll7hugkrjtf3xf/app.bsky.feed.post/3l3pte3p2e325")
        #expect(c.time?.rawValue == "2024-09-09T19:46:02.329Z")

        let delete =
            #"{"did":"did:plc:rfov6bpyztcnedeyyzgfq42k","time_us":1725516666833633,"kind":"commit","commit":{"rev":"3l3f6nzl3cv2s","operation":"delete","collection":"app.bsky.graph.follow","rkey":"3l3dn7tku762u"}}"#
        guard case .commit(let d) = try decoder.decode(delete) else { Issue.record("not a commit"); return }
        #expect(d.ops[0].action == .delete && d.ops[0].record == nil && d.ops[0].cid == nil)

        let identity =
            #"{"did":"did:plc:ufbl4k27gp6kzas5glhz7fim","time_us":1725516665234703,"kind":"identity","identity":{"did":"did:plc:ufbl4k27gp6kzas5glhz7fim","handle":"yohenrique.bsky.social","seq":1409752997,"time":"2024-09-05T06:11:04.870Z"}}"#
        guard case .identity(let i) = try decoder.decode(identity) else { Issue.record("not identity"); return }
        #expect(
            i.handle == "yohenrique.bsky.social" && i.seq == 1_725_516_665_234_703
                && i.time?.rawValue == "2024-09-05T06:11:04.870Z")

        let account =
            #"{"did":"did:plc:ufbl4k27gp6kzas5glhz7fim","time_us":1725516665333808,"kind":"account","account":{"active":false,"did":"did:plc:ufbl4k27gp6kzas5glhz7fim","seq":1409753013,"status":"takendown","time":"2024-09-05T06:11:04.870Z"}}"#
        guard case .account(let a) = try decoder.decode(account) else { Issue.record("not account"); return }
        #expect(!a.active && a.status == "takendown")
    }

    @Test(arguments: [
        "[]", "{}", #"{"did":"nope","time_us":1,"kind":"commit"}"#,
        #"{"did":"did:plc:x","kind":"commit","commit":{}}"#,
        #"{"did":"did:plc:x","time_us":5,"kind":"commit","commit":{"operation":"explode","collection":"a.b.c","rkey":"r"}}"#,
        #"{"did":"did:plc:x","time_us":5,"kind":"commit","commit":{"operation":"create","collection":"a.b.c","rkey":"r"}}"#,
        #"{"did":"did:plc:x","time_us":5,"kind":"commit","commit":{"operation":"create","collection":"not an nsid","rkey":"r","record":{}}}"#,
        #"{"did":"did:plc:x","time_us":5,"kind":"account","account":{}}"#,
        #"{"did":"did:plc:x","time_us":5.5,"kind":"identity"}"#,
    ])
    func rejectsMalformedEvents(_ json: String) {
        #expect(throws: JetstreamEventDecoder.Error.self) { try decoder.decode(json) }
    }

    @Test func unknownKindsAreIgnorable() throws {
        guard case .unknown(let kind) = try decoder.decode(#"{"did":"did:plc:x","time_us":5,"kind":"sync"}"#) else {
            Issue.record("expected unknown")
            return
        }
        #expect(kind == "sync")
    }
}

@Suite(.serialized) struct JetstreamSourceTests {
    func logger() -> Logger {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }

    func collect(_ source: JetstreamSource, until count: Int) async throws -> [Int64] {
        let received = Received()
        let task = Task { try await source.run(resumeAfter: { nil }, deliver: { received.deliver($0) }) }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(90)
        while received.snapshot.seqs.count < count && clock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        task.cancel()
        _ = await task.result
        return received.snapshot.seqs
    }

    @Test func reconnectsRewindAndSkipWhatWasDelivered() async throws {
        let events = jetstreamEvents(count: 500)
        var faults = TestRelay.Faults()
        faults.dropAfter = 60
        let relay = try await TestRelay(
            frames: events.map { .init(seq: $0.seq, bytes: Array($0.json.utf8), text: true) }, faults: faults)
        let source = try JetstreamSource(
            configuration: .init(
                url: relay.url + "/subscribe", wantedCollections: ["app.bsky.feed.post", "app.bsky.graph.*"],
                rewind: .milliseconds(0) + .nanoseconds(5_000),
                backoff: .init(initial: .milliseconds(5), maximum: .milliseconds(20))),
            logger: logger())
        let seqs = try await collect(source, until: events.count)
        #expect(seqs == events.map(\.seq))
        #expect(source.counts.skipped > 0)  // the rewind re-sent some, and they were skipped
        // Each reconnection asked for a cursor a little before the last delivered event.
        let cursors = relay.requestedCursors.compactMap { $0 }
        #expect(!cursors.isEmpty)
        #expect(cursors.allSatisfy { c in events.contains { $0.seq - 5 == c } })
        await relay.stop()
    }

    /// Jetstream closes every 150 messages with 1013: counted by code with the reconnections,
    /// and reading goes on from where it was.
    @Test func closeCodesAndReconnectsAreCounted() async throws {
        let events = jetstreamEvents(count: 400)
        var faults = TestRelay.Faults()
        faults.closeAfter = 150
        faults.closeCode = 1013
        faults.closeReason = "try again later"
        let relay = try await TestRelay(
            frames: events.map { .init(seq: $0.seq, bytes: Array($0.json.utf8), text: true) }, faults: faults)
        let source = try JetstreamSource(
            configuration: .init(
                url: relay.url + "/subscribe", rewind: .zero,
                backoff: .init(initial: .milliseconds(5), maximum: .milliseconds(20))),
            logger: logger())
        let seqs = try await collect(source, until: events.count)
        #expect(seqs == events.map(\.seq))
        let counts = source.counts
        #expect(counts.closeCodes == [1013: 2])
        #expect(counts.reconnects == 2 && counts.connections == 3)
        #expect(counts.reconnectDelay != nil)
        await relay.stop()
    }

    /// A refused upgrade is counted as an HTTP error and retried.
    @Test func refusedUpgradesAreCounted() async throws {
        let events = jetstreamEvents(count: 20)
        var faults = TestRelay.Faults()
        faults.refusals = [(status: 503, retryAfter: nil), (status: 429, retryAfter: nil)]
        let relay = try await TestRelay(
            frames: events.map { .init(seq: $0.seq, bytes: Array($0.json.utf8), text: true) }, faults: faults)
        let source = try JetstreamSource(
            configuration: .init(
                url: relay.url + "/subscribe", backoff: .init(initial: .milliseconds(5), maximum: .milliseconds(20))),
            logger: logger())
        let seqs = try await collect(source, until: events.count)
        #expect(seqs == events.map(\.seq))
        #expect(source.counts.httpErrors == 2)
        #expect(source.counts.reconnects >= 2)
        await relay.stop()
    }

    @Test func requestCarriesFiltersCursorAndCompression() throws {
        let source = try JetstreamSource(
            configuration: .init(
                url: "wss://jetstream2.us-east.bsky.network/subscribe", wantedCollections: ["app.bsky.feed.post"],
                wantedDids: ["did:plc:abc"], compressionDictionary: try trainedDictionary()),
            logger: logger())
        #expect(
            source.target(cursor: 10_000_000).target
                == "/subscribe?wantedCollections=app.bsky.feed.post&wantedDids=did:plc:abc&cursor=5000000&compress=true"
        )
        #expect(source.cursorName == "jetstream jetstream2.us-east.bsky.network")
        #expect(throws: RelaySource.FatalError.self) {
            try JetstreamSource(
                configuration: .init(url: "wss://x/subscribe", wantedCollections: ["app.bsky.fo*"]), logger: logger())
        }
    }

    @Test func compressedMessagesWithADictionary() async throws {
        let events = jetstreamEvents(count: 300, seed: 9)
        let dictionary = try trainedDictionary()
        let frames = events.map {
            TestRelay.Frame(seq: $0.seq, bytes: compress(Array($0.json.utf8), dictionary: dictionary))
        }
        let relay = try await TestRelay(frames: frames)
        let source = try JetstreamSource(
            configuration: .init(url: relay.url, compressionDictionary: dictionary), logger: logger())
        let seqs = try await collect(source, until: events.count)
        #expect(seqs == events.map(\.seq))
        #expect(source.counts.badEvents == 0)
        await relay.stop()

        // A frame made with another dictionary is refused by ID, not decoded into garbage.
        let other = try trainedDictionary(seed: 99)
        let decompressor = try ZstdDictionaryDecompressor(dictionary: dictionary)
        if decompressor.dictionaryID != (try ZstdDictionaryDecompressor(dictionary: other)).dictionaryID {
            #expect(throws: ZstdDictionaryDecompressor.Error.self) {
                try decompressor.decompress(compress(Array(events[0].json.utf8), dictionary: other))
            }
        }
    }

    func trainedDictionary(seed: UInt64 = 3) throws -> [UInt8] {
        let samples = jetstreamEvents(count: 2000, seed: seed).map { Array($0.json.utf8) }
        let joined = samples.flatMap { $0 }
        let sizes = samples.map { Int($0.count) }
        var dictionary = [UInt8](repeating: 0, count: 16 * 1024)
        let size = dictionary.withUnsafeMutableBytes { d in
            joined.withUnsafeBytes { j in
                sizes.withUnsafeBufferPointer { s in
                    ZDICT_trainFromBuffer(d.baseAddress, d.count, j.baseAddress, s.baseAddress, UInt32(s.count))
                }
            }
        }
        try #require(ZDICT_isError(size) == 0)
        return Array(dictionary.prefix(size))
    }

    func compress(_ input: [UInt8], dictionary: [UInt8]) -> [UInt8] {
        let context = ZSTD_createCCtx()!
        defer { ZSTD_freeCCtx(context) }
        var output = [UInt8](repeating: 0, count: ZSTD_compressBound(input.count))
        let size = output.withUnsafeMutableBytes { o in
            input.withUnsafeBytes { i in
                dictionary.withUnsafeBytes { d in
                    ZSTD_compress_usingDict(
                        context, o.baseAddress, o.count, i.baseAddress, i.count, d.baseAddress, d.count, 3)
                }
            }
        }
        return Array(output.prefix(size))
    }
}
