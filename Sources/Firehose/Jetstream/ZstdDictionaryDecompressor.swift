import CZstd

/// Decompresses Jetstream's `compress=true` messages: each binary message is one zstd frame made
/// with a shared dictionary (Jetstream's published one, whose ID is 1612007021).
public final class ZstdDictionaryDecompressor: @unchecked Sendable {
    // The context is used by one reader at a time (the source's connection task); the dictionary
    // is immutable once created.
    private let context: OpaquePointer
    private let dictionary: OpaquePointer
    /// The dictionary's ID, to match against each frame's.
    public let dictionaryID: UInt32
    public let maxSize: Int

    public struct Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        public let description: String
    }

    public init(dictionary bytes: [UInt8], maxSize: Int = 10_000_000) throws(Error) {
        guard let dictionary = bytes.withUnsafeBytes({ ZSTD_createDDict($0.baseAddress, $0.count) }) else {
            throw Error(description: "not a zstd dictionary")
        }
        guard let context = ZSTD_createDCtx() else {
            ZSTD_freeDDict(dictionary)
            throw Error(description: "cannot create a zstd context")
        }
        self.dictionary = dictionary
        self.context = context
        self.dictionaryID = ZSTD_getDictID_fromDDict(dictionary)
        self.maxSize = maxSize
    }

    deinit {
        ZSTD_freeDCtx(context)
        ZSTD_freeDDict(dictionary)
    }

    public func decompress(_ frame: [UInt8]) throws(Error) -> [UInt8] {
        let frameDictionary = frame.withUnsafeBytes { ZSTD_getDictID_fromFrame($0.baseAddress, $0.count) }
        if frameDictionary != 0 && frameDictionary != dictionaryID {
            throw Error(description: "frame needs dictionary \(frameDictionary), we have \(dictionaryID)")
        }
        ZSTD_DCtx_reset(context, ZSTD_reset_session_only)
        ZSTD_DCtx_refDDict(context, dictionary)
        var output = [UInt8](repeating: 0, count: min(maxSize, max(4096, frame.count * 8)))
        var produced = 0
        let done: Bool = try frame.withUnsafeBytes { input in
            Result { () throws(Error) -> Bool in
                var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
                while true {
                    let (hint, written): (Int, Int) = output.withUnsafeMutableBytes { out in
                        var outBuffer = ZSTD_outBuffer(
                            dst: out.baseAddress! + produced, size: out.count - produced, pos: 0)
                        let hint = ZSTD_decompressStream(context, &outBuffer, &inBuffer)
                        return (hint, outBuffer.pos)
                    }
                    if ZSTD_isError(hint) != 0 { throw Error(description: String(cString: ZSTD_getErrorName(hint))) }
                    produced += written
                    if hint == 0 { return true }
                    if inBuffer.pos == inBuffer.size && produced < output.count { return false }
                    if produced == output.count {
                        guard output.count < maxSize else {
                            throw Error(description: "message larger than \(maxSize) bytes")
                        }
                        output.append(
                            contentsOf: repeatElement(0, count: min(maxSize, output.count * 2) - output.count))
                    }
                }
            }
        }.get()
        guard done else { throw Error(description: "truncated zstd frame") }
        output.removeLast(output.count - produced)
        return output
    }
}

extension ZstdDictionaryDecompressor {
    /// The bytes of a dictionary file (Jetstream publishes its dictionary as a file).
    public static func readDictionary(at path: String, maxSize: Int = 8 << 20) throws(CaptureError) -> [UInt8] {
        let file = try FileByteSource(path: path)
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let read = chunk.withUnsafeMutableBytes { buffer in
                Result { () throws(CaptureError) in try file.read(into: buffer) }
            }
            let n = try read.get()
            if n == 0 { return bytes }
            bytes += chunk[0..<n]
            guard bytes.count <= maxSize else {
                throw CaptureError(
                    .readFailed(path: path, reason: "larger than \(maxSize) bytes: not a zstd dictionary"))
            }
        }
    }
}
