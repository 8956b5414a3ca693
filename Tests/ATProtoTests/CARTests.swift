import Testing

@testable import ATProto

@Suite struct CARTests {
    func car(roots: [CID], blocks: [(CID, [UInt8])], header: [UInt8]? = nil) -> [UInt8] {
        var out = [UInt8]()
        let h = header ?? CBOREncoder.encode(.map(["roots": .array(roots.map { .link($0) }), "version": 1]))
        Varint.append(UInt64(h.count), to: &out)
        out += h
        for (cid, data) in blocks {
            let c = cid.bytes
            Varint.append(UInt64(c.count + data.count), to: &out)
            out += c + data
        }
        return out
    }

    @Test func blocksInAnyOrderWithDuplicates() throws {
        let a = CBOREncoder.encode(.map(["a": 1]))
        let b = CBOREncoder.encode(.map(["b": 2]))
        let ca = CID.compute(for: a)
        let cb = CID.compute(for: b)
        let parsed = try CAR(car(roots: [ca], blocks: [(cb, b), (ca, a), (cb, b)]))
        #expect(parsed.roots == [ca])
        #expect(parsed.blocks.count == 3)
        #expect(parsed.block(for: ca).map(Array.init) == a)
        #expect(parsed.block(for: cb).map(Array.init) == b)
        #expect(parsed.mismatchedBlocks().isEmpty)
        #expect(parsed.block(for: CID.compute(for: [1, 2, 3])) == nil)
    }

    @Test func mismatchedBlockIsFound() throws {
        let a = CBOREncoder.encode(.map(["a": 1]))
        let ca = CID.compute(for: a)
        let parsed = try CAR(car(roots: [ca], blocks: [(ca, CBOREncoder.encode(.map(["a": 2])))]))
        #expect(parsed.mismatchedBlocks() == [ca])
    }

    @Test func malformedCARs() {
        let a = CBOREncoder.encode(.map(["a": 1]))
        let ca = CID.compute(for: a)
        let good = car(roots: [ca], blocks: [(ca, a)])
        let cases: [[UInt8]] = [
            [],  // no header
            [0x00],  // empty header
            car(roots: [ca], blocks: [], header: CBOREncoder.encode(.map(["roots": [.link(ca)], "version": 2]))),
            car(roots: [ca], blocks: [], header: CBOREncoder.encode(.map(["roots": ["x"], "version": 1]))),
            car(roots: [ca], blocks: [], header: CBOREncoder.encode(.map(["version": 1]))),
            Array(good.dropLast()),  // section length beyond the end
            good + [0x05, 0x01, 0x71],  // a section too short for its CID
        ]
        for bytes in cases {
            #expect(throws: CAR.Error.self) { try CAR(bytes) }
        }
    }
}
