/// A CAR v1 archive read in place: the header's roots and each block's CID and byte range.
///
/// Block order is arbitrary and duplicates are tolerated (a firehose "slice" may repeat blocks),
/// so lookups scan the small block list; a commit carries three blocks on average. Block data are
/// slices of the input, never copies.
public struct CAR: Sendable {
    public struct Block: Sendable {
        public let cid: CID
        public let data: ArraySlice<UInt8>
    }

    public let roots: [CID]
    public let blocks: [Block]

    public struct Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        public let reason: String
        public let offset: Int
        public var description: String { "CAR: \(reason) at byte \(offset)" }
    }

    /// Parses `bytes` as a CAR v1 file.
    public init(_ bytes: ArraySlice<UInt8>, decoder: CBORDecoder = CBORDecoder()) throws(Error) {
        (roots, blocks) = try bytes.withUnsafeBytes { raw in
            Result { () throws(Error) -> ([CID], [Block]) in try CAR.parse(bytes, raw, decoder) }
        }.get()
    }

    public init(_ bytes: [UInt8]) throws(Error) { try self.init(bytes[...]) }

    static func parse(_ base: ArraySlice<UInt8>, _ raw: UnsafeRawBufferPointer, _ decoder: CBORDecoder)
        throws(Error) -> ([CID], [Block])
    {
        var offset = 0
        func varint() throws(Error) -> Int {
            let at = offset
            do {
                let v = try Varint.read(raw, at: &offset)
                guard v <= UInt64(raw.count - offset) else {
                    throw Error(reason: "section length \(v) exceeds the \(raw.count - offset) bytes left", offset: at)
                }
                return Int(v)
            } catch let e as Error {
                throw e
            } catch {
                throw Error(reason: "bad varint (\(error))", offset: at)
            }
        }
        let headerLength = try varint()
        guard headerLength > 0 else { throw Error(reason: "empty header", offset: 0) }
        let headerStart = base.startIndex + offset
        let header: CBORValue
        do {
            header = try decoder.decode(base[headerStart..<(headerStart + headerLength)])
        } catch {
            throw Error(reason: "header: \(error)", offset: offset)
        }
        guard header["version"]?.intValue == 1 else {
            throw Error(reason: "header version is not 1", offset: offset)
        }
        guard let rootValues = header["roots"]?.arrayValue else {
            throw Error(reason: "header has no roots array", offset: offset)
        }
        var roots = [CID]()
        roots.reserveCapacity(rootValues.count)
        for value in rootValues {
            guard let cid = value.linkValue else { throw Error(reason: "a root is not a CID link", offset: offset) }
            roots.append(cid)
        }
        offset += headerLength

        var blocks = [Block]()
        blocks.reserveCapacity(4)
        while offset < raw.count {
            let sectionStart = offset
            let length = try varint()
            let end = offset + length
            let section = UnsafeRawBufferPointer(rebasing: raw[offset..<end])
            var cidEnd = 0
            let cid: CID
            do {
                cid = try CID.read(section, at: &cidEnd)
            } catch {
                throw Error(reason: "block CID: \(error)", offset: sectionStart)
            }
            let dataStart = base.startIndex + offset + cidEnd
            blocks.append(Block(cid: cid, data: base[dataStart..<(base.startIndex + end)]))
            offset = end
        }
        return (roots, blocks)
    }

    /// The data of the first block with this CID.
    public func block(for cid: CID) -> ArraySlice<UInt8>? {
        for block in blocks where block.cid == cid { return block.data }
        return nil
    }

    /// The CIDs of blocks whose sha2-256 does not match their CID (a non-sha2-256 CID counts as a
    /// mismatch: atproto blocks are always sha2-256).
    public func mismatchedBlocks() -> [CID] {
        blocks.filter { !$0.cid.matches(block: $0.data) }.map(\.cid)
    }
}
