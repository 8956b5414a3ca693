import Crypto

/// A content identifier: CIDv1 `version ‖ codec ‖ multihash`, or a legacy CIDv0 (bare sha2-256
/// multihash, implicitly dag-pb).
///
/// atproto only creates CIDv1 with dag-cbor (0x71) or raw (0x55) and sha2-256, but records may
/// link to anything and CAR files may carry other forms, so any well-formed CID parses; callers that
/// need the blessed form check `isBlessed`. A sha2-256 digest is stored inline, so a CID costs no
/// allocation on the decode path.
public struct CID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public static let dagCBOR: UInt64 = 0x71
    public static let raw: UInt64 = 0x55
    public static let dagPB: UInt64 = 0x70
    public static let sha256: UInt64 = 0x12

    public let version: UInt8
    public let codec: UInt64
    /// Multihash function code (0x12 = sha2-256).
    public let hashFunction: UInt64
    @usableFromInline let digestStorage: Digest

    @usableFromInline
    enum Digest: Hashable, Sendable {
        case sha256(UInt64, UInt64, UInt64, UInt64)
        case other([UInt8])
    }

    public enum Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        case truncated
        case badVarint(Varint.Error)
        case unsupportedVersion(UInt64)
        case digestLengthMismatch(declared: UInt64, available: Int)
        case trailingBytes(Int)
        case badString(String)

        public var description: String {
            switch self {
            case .truncated: "CID is truncated"
            case .badVarint(let e): "CID has a bad varint: \(e)"
            case .unsupportedVersion(let v): "unsupported CID version \(v)"
            case .digestLengthMismatch(let d, let a): "CID declares a \(d)-byte digest but \(a) bytes are left"
            case .trailingBytes(let n): "\(n) unexpected bytes after the CID"
            case .badString(let why): "bad CID string: \(why)"
            }
        }
    }

    public init(version: UInt8 = 1, codec: UInt64, hashFunction: UInt64 = CID.sha256, digest: some Collection<UInt8>) {
        self.version = version
        self.codec = codec
        self.hashFunction = hashFunction
        self.digestStorage = CID.store(hashFunction: hashFunction, digest: digest)
    }

    @inline(__always)
    static func store(hashFunction: UInt64, digest: some Collection<UInt8>) -> Digest {
        guard hashFunction == CID.sha256, digest.count == 32 else { return .other(Array(digest)) }
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &words) { w in
            w.copyBytes(from: digest)
        }
        return .sha256(words.0, words.1, words.2, words.3)
    }

    /// The CIDv1 of `block` under `codec`, hashed with sha2-256.
    public static func compute(for block: UnsafeRawBufferPointer, codec: UInt64 = CID.dagCBOR) -> CID {
        var hasher = SHA256()
        hasher.update(bufferPointer: block)
        let digest = hasher.finalize()
        return digest.withUnsafeBytes { CID(codec: codec, digest: $0) }
    }

    public static func compute(for block: ArraySlice<UInt8>, codec: UInt64 = CID.dagCBOR) -> CID {
        block.withUnsafeBytes { compute(for: $0, codec: codec) }
    }

    public static func compute(for block: [UInt8], codec: UInt64 = CID.dagCBOR) -> CID {
        block.withUnsafeBytes { compute(for: $0, codec: codec) }
    }

    /// Whether `block`'s sha2-256 equals this CID's digest. False for non-sha2-256 CIDs.
    public func matches(block: UnsafeRawBufferPointer) -> Bool {
        guard case .sha256(let a, let b, let c, let d) = digestStorage else { return false }
        var hasher = SHA256()
        hasher.update(bufferPointer: block)
        let hash = hasher.finalize()
        return hash.withUnsafeBytes { h -> Bool in
            let w0 = h.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
            let w1 = h.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
            let w2 = h.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
            let w3 = h.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
            return w0 == a && w1 == b && w2 == c && w3 == d
        }
    }

    public func matches(block: ArraySlice<UInt8>) -> Bool {
        block.withUnsafeBytes { matches(block: $0) }
    }

    /// CIDv1, dag-cbor or raw, sha2-256: the only form atproto creates for repo data.
    public var isBlessed: Bool {
        version == 1 && (codec == CID.dagCBOR || codec == CID.raw) && hashFunction == CID.sha256
            && digestStorage.count == 32
    }

    public var digest: [UInt8] {
        switch digestStorage {
        case .sha256(let a, let b, let c, let d):
            var out = [UInt8](repeating: 0, count: 32)
            out.withUnsafeMutableBytes { o in
                o.storeBytes(of: a, toByteOffset: 0, as: UInt64.self)
                o.storeBytes(of: b, toByteOffset: 8, as: UInt64.self)
                o.storeBytes(of: c, toByteOffset: 16, as: UInt64.self)
                o.storeBytes(of: d, toByteOffset: 24, as: UInt64.self)
            }
            return out
        case .other(let bytes): return bytes
        }
    }

    /// The binary form: what CAR sections and (behind a 0x00 prefix) DAG-CBOR links carry.
    public var bytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(40)
        appendBytes(to: &out)
        return out
    }

    public func appendBytes(to out: inout [UInt8]) {
        let d = digest
        if version == 0 {
            out.append(contentsOf: [0x12, 0x20])
        } else {
            Varint.append(UInt64(version), to: &out)
            Varint.append(codec, to: &out)
            Varint.append(hashFunction, to: &out)
            Varint.append(UInt64(d.count), to: &out)
        }
        out.append(contentsOf: d)
    }

    /// The string form: `b` + base32 for CIDv1, bare base58btc for CIDv0.
    public var string: String {
        version == 0 ? Base58.encode(bytes) : "b" + Base32.encode(bytes)
    }

    public var description: String { string }

    public static func < (lhs: CID, rhs: CID) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }

    // MARK: Parsing

    /// Parses a binary CID occupying all of `bytes`.
    public init(bytes: some Collection<UInt8>) throws(Error) {
        let array = Array(bytes)
        self = try array.withUnsafeBytes { raw in
            Result { () throws(Error) -> CID in
                var offset = 0
                let cid = try CID.read(raw, at: &offset)
                guard offset == raw.count else { throw .trailingBytes(raw.count - offset) }
                return cid
            }
        }.get()
    }

    /// Reads a binary CID at `offset`, advancing past it. Used by CAR sections, where the CID's
    /// own varints say where it ends.
    @inlinable
    public static func read(_ raw: UnsafeRawBufferPointer, at offset: inout Int) throws(Error) -> CID {
        // CIDv0 is a bare sha2-256 multihash: 0x12 0x20 + 32 bytes.
        if raw.count - offset >= 2 && raw[offset] == 0x12 && raw[offset + 1] == 0x20 {
            guard raw.count - offset >= 34 else { throw .truncated }
            let digest = UnsafeRawBufferPointer(rebasing: raw[(offset + 2)..<(offset + 34)])
            offset += 34
            return CID(version: 0, codec: CID.dagPB, hashFunction: CID.sha256, digest: digest)
        }
        let version = try varint(raw, &offset)
        guard version == 1 else { throw .unsupportedVersion(version) }
        let codec = try varint(raw, &offset)
        let hash = try varint(raw, &offset)
        let length = try varint(raw, &offset)
        guard length <= UInt64(raw.count - offset) else {
            throw .digestLengthMismatch(declared: length, available: raw.count - offset)
        }
        let digest = UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + Int(length))])
        offset += Int(length)
        return CID(version: 1, codec: codec, hashFunction: hash, digest: digest)
    }

    @inlinable @inline(__always)
    static func varint(_ raw: UnsafeRawBufferPointer, _ offset: inout Int) throws(Error) -> UInt64 {
        do { return try Varint.read(raw, at: &offset) } catch { throw .badVarint(error) }
    }

    /// Parses the string form: `b…` (base32 CIDv1) or `Qm…` (base58btc CIDv0), or `z…` (base58btc CIDv1).
    public init(string: String) throws(Error) {
        guard string.utf8.count >= 8 else { throw .badString("too short") }
        let bytes: [UInt8]
        if string.hasPrefix("Qm") {
            guard string.utf8.count == 46 else { throw .badString("CIDv0 must be 46 characters") }
            do { bytes = try Base58.decode(string.utf8) } catch { throw .badString(error.description) }
        } else {
            do { bytes = try Multibase.decode(string) } catch { throw .badString(error.description) }
            guard bytes.first != 0x12 else { throw .badString("CIDv0 must not carry a multibase prefix") }
        }
        self = try CID(bytes: bytes)
    }
}

extension CID.Digest {
    var count: Int {
        switch self {
        case .sha256: 32
        case .other(let b): b.count
        }
    }
}
