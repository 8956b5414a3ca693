import CZlib

/// Inflates a gzip stream, including several concatenated members (as `cat a.gz b.gz` makes).
final class GzipByteSource: ByteSource {
    private let input: any ByteSource
    private let path: String
    private var stream = z_stream()
    /// Compressed input; owned here so zlib's `next_in` stays valid between calls.
    private let inputBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 8)
    private var inputEnded = false
    private var memberEnded = false

    init(_ input: any ByteSource, path: String) throws(CaptureError) {
        self.input = input
        self.path = path
        // 15 + 16: the largest window, gzip wrapper.
        guard czlib_inflate_init2(&stream, 15 + 16) == Z_OK else {
            inputBuffer.deallocate()
            throw CaptureError(.decompression(path: path, reason: "cannot initialise zlib"))
        }
    }

    deinit {
        inflateEnd(&stream)
        inputBuffer.deallocate()
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(CaptureError) -> Int {
        guard buffer.count > 0 else { return 0 }
        while true {
            if stream.avail_in == 0 && !inputEnded {
                let n = try input.read(into: inputBuffer)
                if n == 0 {
                    inputEnded = true
                } else {
                    stream.next_in = inputBuffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    stream.avail_in = UInt32(n)
                }
            }
            if stream.avail_in == 0 && inputEnded {
                if memberEnded || stream.total_in == 0 { return 0 }
                throw CaptureError(.decompression(path: path, reason: "gzip stream is truncated"))
            }
            if memberEnded {
                // More input after a complete member: another gzip member follows.
                guard inflateReset(&stream) == Z_OK else {
                    throw CaptureError(.decompression(path: path, reason: "cannot reset zlib"))
                }
                memberEnded = false
            }
            stream.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.avail_out = UInt32(min(buffer.count, Int(UInt32.max)))
            let status = inflate(&stream, Z_NO_FLUSH)
            let produced = buffer.count - Int(stream.avail_out)
            switch status {
            case Z_OK, Z_BUF_ERROR:
                break
            case Z_STREAM_END:
                memberEnded = true
            default:
                let reason = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                throw CaptureError(.decompression(path: path, reason: reason))
            }
            if produced > 0 { return produced }
        }
    }
}
