import CZstd

/// Decompresses a zstd stream (any number of frames).
final class ZstdByteSource: ByteSource {
    private let input: any ByteSource
    private let path: String
    private let context: OpaquePointer
    private let inputBuffer: UnsafeMutableRawBufferPointer
    private var inBuffer = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
    private var inputEnded = false
    /// zstd's hint: 0 when the last frame is complete and flushed.
    private var lastHint = 0

    init(_ input: any ByteSource, path: String) throws(CaptureError) {
        self.input = input
        self.path = path
        guard let context = ZSTD_createDCtx() else {
            throw CaptureError(.decompression(path: path, reason: "cannot create a zstd context"))
        }
        self.context = context
        inputBuffer = .allocate(byteCount: ZSTD_DStreamInSize(), alignment: 8)
    }

    deinit {
        ZSTD_freeDCtx(context)
        inputBuffer.deallocate()
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(CaptureError) -> Int {
        guard buffer.count > 0 else { return 0 }
        while true {
            if inBuffer.pos == inBuffer.size && !inputEnded {
                let n = try input.read(into: inputBuffer)
                if n == 0 {
                    inputEnded = true
                } else {
                    inBuffer = ZSTD_inBuffer(src: UnsafeRawPointer(inputBuffer.baseAddress), size: n, pos: 0)
                }
            }
            var out = ZSTD_outBuffer(dst: buffer.baseAddress, size: buffer.count, pos: 0)
            let consumedBefore = inBuffer.pos
            let hint = ZSTD_decompressStream(context, &out, &inBuffer)
            if ZSTD_isError(hint) != 0 {
                throw CaptureError(.decompression(path: path, reason: String(cString: ZSTD_getErrorName(hint))))
            }
            // A call with nothing to do reports the size of a next frame's header; only a call that
            // made progress says whether the current frame is complete.
            if inBuffer.pos != consumedBefore || out.pos > 0 { lastHint = hint }
            if out.pos > 0 { return out.pos }
            if inputEnded && inBuffer.pos == inBuffer.size {
                if lastHint != 0 { throw CaptureError(.decompression(path: path, reason: "zstd stream is truncated")) }
                return 0
            }
        }
    }
}
