import NIOCore
import Testing

@testable import LabelServer

@Suite struct RecentFramesTests {
    static func frames(_ seqs: [Int64]) -> [LabelFrame] {
        seqs.map { LabelFrame(seq: $0, frame: WireFrame(payload: []), key: "k\($0)") }
    }

    @Test func aLabelChangedAgainHidesItsEarlierFrame() {
        var recent = RecentFrames(capacity: 4, head: 0)
        recent.append([
            LabelFrame(seq: 1, frame: WireFrame(payload: []), key: "a"),
            LabelFrame(seq: 2, frame: WireFrame(payload: []), key: "b"),
            LabelFrame(seq: 3, frame: WireFrame(payload: []), key: "a"),
        ])
        #expect(recent.frames(after: 0, limit: 10)?.map(\.seq) == [2, 3])
        #expect(recent.frames(after: 0, limit: 1)?.map(\.seq) == [2])
        recent.append([
            LabelFrame(seq: 4, frame: WireFrame(payload: []), key: "c"),
            LabelFrame(seq: 5, frame: WireFrame(payload: []), key: "a"),
        ])
        // 1 was evicted; 3 is hidden by 5.
        #expect(recent.frames(after: 1, limit: 10)?.map(\.seq) == [2, 4, 5])
    }

    @Test func coversFromItsStartAndEvictsTheOldest() {
        var recent = RecentFrames(capacity: 3, head: 10)
        #expect(recent.frames(after: 9, limit: 10) == nil)
        #expect(recent.frames(after: 10, limit: 10)?.isEmpty == true)
        recent.append(Self.frames([11, 13]))
        #expect(recent.frames(after: 10, limit: 10)?.map(\.seq) == [11, 13])
        #expect(recent.frames(after: 11, limit: 10)?.map(\.seq) == [13])
        recent.append(Self.frames([14, 20]))
        // 11 is evicted: a reader at 10 would miss it, so it must read the store.
        #expect(recent.frames(after: 10, limit: 10) == nil)
        #expect(recent.frames(after: 11, limit: 10)?.map(\.seq) == [13, 14, 20])
        #expect(recent.frames(after: 12, limit: 2)?.map(\.seq) == [13, 14])
        #expect(recent.frames(after: 20, limit: 10)?.isEmpty == true)
        recent.advance(to: 25)
        #expect(recent.head == 25)
        recent.append(Self.frames([26]))
        #expect(recent.frames(after: 13, limit: 10)?.map(\.seq) == [14, 20, 26])
        #expect(recent.frames(after: 12, limit: 10) == nil)
    }

    @Test func aRoundsFramesFormOneSegmentForSubscribersAtThePreviousHead() {
        var recent = RecentFrames(capacity: 10, head: 0)
        recent.append([
            LabelFrame(seq: 1, frame: WireFrame(payload: [1]), key: "a"),
            LabelFrame(seq: 2, frame: WireFrame(payload: [2]), key: "b"),
        ])
        recent.makeSegment(after: 0)
        let first = recent.segment(after: 0)
        #expect(first?.through == 2)
        #expect(first?.count == 2)
        #expect(first.map { Array($0.bytes.readableBytesView) } == [0x82, 1, 1, 0x82, 1, 2])
        #expect(recent.segment(after: 1) == nil)
        recent.append([
            LabelFrame(seq: 3, frame: WireFrame(payload: [3]), key: "a"),
            LabelFrame(seq: 5, frame: WireFrame(payload: [5]), key: "c"),
        ])
        recent.advance(to: 6)
        recent.makeSegment(after: 2)
        #expect(recent.segment(after: 0) == nil)
        let second = recent.segment(after: 2)
        #expect(second?.through == 6)
        #expect(second.map { Array($0.bytes.readableBytesView) } == [0x82, 1, 3, 0x82, 1, 5])
    }
}
