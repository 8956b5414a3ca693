import SyntheticFirehose
import Testing

@testable import ATProto

/// The key-free half of commit verification: the commit object against its event, and the
/// inversion proof on frames a repository writer makes (creates, updates, deletes, several ops
/// at once), then on frames altered one way at a time.
@Suite struct CommitVerificationTests {
    static let did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
    static func unsignedSignature(_: [UInt8]) -> [UInt8] { [UInt8](repeating: 7, count: 64) }

    static func post(_ text: String) -> CBORValue {
        .map(["$type": "app.bsky.feed.post", "text": .text(CBORText(text)), "createdAt": "2026-12-02T00:00:00.000Z"])
    }

    /// A repository with history, and the frames of its commits.
    static func frames() throws -> [[UInt8]] {
        var writer = RepoWriter(did: did)
        var frames: [[UInt8]] = []
        var seq: Int64 = 100
        func commit(_ ops: [RepoWriter.Operation]) throws {
            seq += 1
            frames.append(try writer.commit(seq: seq, ops, sign: unsignedSignature))
        }
        for i in 0..<60 { try commit([.create(path: "app.bsky.feed.post/3l\(1000 + i)", record: post("post \(i)"))]) }
        try commit([.update(path: "app.bsky.feed.post/3l1007", record: post("edited"))])
        try commit([.delete(path: "app.bsky.feed.post/3l1010")])
        try commit((0..<8).map { .create(path: "app.bsky.feed.like/3m\(2000 + $0)", record: post("like \($0)")) })
        try commit([
            .delete(path: "app.bsky.feed.post/3l1020"), .delete(path: "app.bsky.feed.post/3l1021"),
            .update(path: "app.bsky.feed.post/3l1030", record: post("again")),
            .create(path: "app.bsky.graph.follow/3n3000", record: post("follow")),
        ])
        return frames
    }

    static func commitEvent(_ frame: [UInt8]) throws -> CommitEvent {
        guard case .commit(let event) = try RepoEventDecoder().decode(frame) else {
            Issue.record("not a commit")
            throw FrameError(.missingBody)
        }
        return event
    }

    /// The frame with its body changed by `change`.
    static func altered(_ frame: [UInt8], _ change: (inout CBORMap) throws -> Void) throws -> [UInt8] {
        let (_, end) = try CBORDecoder().decodePrefix(frame[...])
        var body = try #require(try CBORDecoder().decode(frame[end...]).mapValue)
        try change(&body)
        return FrameCodec.encodeMessage(type: "#commit", body: body)
    }

    @Test func everyCommitOfAWrittenRepositoryProvesItsOps() throws {
        for frame in try Self.frames() {
            let event = try Self.commitEvent(frame)
            let commit = try event.signedCommit()
            #expect(commit.did == Self.did)
            #expect(commit.rev == event.rev)
            #expect(commit.signature == Self.unsignedSignature([]))
            #expect(try event.checkInversionProof(data: commit.data))
        }
    }

    @Test func aMissingOpBreaksTheProof() throws {
        let frame = try #require(try Self.frames().last)
        let dropped = try Self.altered(frame) { body in
            body = body.setting("ops", to: .array(Array(try #require(body["ops"]?.arrayValue).dropFirst())))
        }
        let event = try Self.commitEvent(dropped)
        let error = #expect(throws: CommitVerificationError.self) {
            try event.checkInversionProof(data: try event.signedCommit().data)
        }
        #expect(error?.reason.name == "proof_mismatch")
    }

    @Test func aWrongPrevDataBreaksTheProof() throws {
        let frames = try Self.frames()
        let stale = try Self.altered(frames[40]) { body in
            body = body.setting("prevData", to: try #require(try Self.commitEvent(frames[10]).prevData).cborLink)
        }
        let event = try Self.commitEvent(stale)
        let error = #expect(throws: CommitVerificationError.self) {
            try event.checkInversionProof(data: try event.signedCommit().data)
        }
        #expect(error?.reason.name == "proof_mismatch")
    }

    @Test func aMissingNodeMakesTheProofIncomplete() throws {
        let frame = try #require(try Self.frames().last)
        let event = try Self.commitEvent(frame)
        let commit = try event.signedCommit()
        // The CAR without the new root node.
        let blocks = try #require(event.blocks).blocks.filter { $0.cid != commit.data }.map { ($0.cid, Array($0.data)) }
        let stripped = try Self.altered(frame) { body in
            body = body.setting("blocks", to: .bytes(RepoWriter.car(root: try #require(event.commit), blocks)[...]))
        }
        let error = #expect(throws: CommitVerificationError.self) {
            try Self.commitEvent(stripped).checkInversionProof(data: commit.data)
        }
        #expect(error?.reason.name == "proof_incomplete")
    }

    @Test func aDeleteWithoutPrevCannotBeProved() throws {
        let frames = try Self.frames()
        let frame = frames[61]  // the delete
        let noPrev = try Self.altered(frame) { body in
            let ops = try #require(body["ops"]?.arrayValue).map {
                CBORValue.map(try #require($0.mapValue).removing("prev"))
            }
            body = body.setting("ops", to: .array(ops))
        }
        let event = try Self.commitEvent(noPrev)
        let error = #expect(throws: CommitVerificationError.self) {
            try event.checkInversionProof(data: try event.signedCommit().data)
        }
        #expect(error?.reason.name == "proof_incomplete")
    }

    @Test func withoutPrevDataThereIsNoProofToCheck() throws {
        let frame = try #require(try Self.frames().last)
        let legacy = try Self.altered(frame) { body in body = body.removing("prevData") }
        let event = try Self.commitEvent(legacy)
        #expect(try event.checkInversionProof(data: try event.signedCommit().data) == false)
    }

    @Test func aCommitForAnotherAccountOrRevIsRefused() throws {
        var writer = RepoWriter(did: Self.did)
        let create = RepoWriter.Operation.create(path: "app.bsky.feed.post/3l1", record: Self.post("x"))
        // The decoder already refuses such a commit; the check stands on its own too (Jetstream
        // and other sources build events without the decoder).
        let otherDID = try writer.commit(
            seq: 1, [create], forge: { $0 = $0.setting("did", to: "did:plc:someoneelse") }, sign: Self.unsignedSignature
        )
        #expect(throws: FrameError.self) { try Self.commitEvent(otherDID) }
        var writer2 = RepoWriter(did: Self.did)
        let good = try Self.commitEvent(try writer2.commit(seq: 1, [create], sign: Self.unsignedSignature))
        var forged = good
        forged.repo = DID(unchecked: "did:plc:someoneelse")
        #expect(throws: CommitVerificationError(.didMismatch(commit: Self.did, event: "did:plc:someoneelse"))) {
            try forged.signedCommit()
        }
        forged = good
        forged.rev = "3zzzzzzzzzzzz"
        #expect(throws: CommitVerificationError(.revMismatch(commit: good.rev, event: "3zzzzzzzzzzzz"))) {
            try forged.signedCommit()
        }
        forged = good
        forged.blocks = nil
        #expect(throws: CommitVerificationError(.noCommitBlock)) { try forged.signedCommit() }
    }

    @Test func malformedCommitObjectsAreTypedErrors() {
        let link = CBORValue.link(MerkleSearchTreeTests.leaf)
        let good: CBORMap = [
            "did": .text(CBORText(Self.did)), "version": 3, "data": link, "rev": "3l1", "prev": .null,
            "sig": .bytes([1, 2][...]),
        ]
        #expect((try? SignedCommit(block: CBOREncoder.encode(.map(good))[...])) != nil)
        for broken in [
            good.setting("version", to: 2), good.removing("prev"), good.setting("data", to: "x"), good.removing("sig"),
            good.setting("did", to: 1),
        ] {
            #expect(throws: CommitVerificationError.self) {
                try SignedCommit(block: CBOREncoder.encode(.map(broken))[...])
            }
        }
        #expect(throws: CommitVerificationError.self) { try SignedCommit(block: [0xff][...]) }
    }
}

extension CID {
    fileprivate var cborLink: CBORValue { .link(self) }
}
