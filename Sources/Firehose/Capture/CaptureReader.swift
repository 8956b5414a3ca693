import ATProto

/// Reads a capture file: records of `uvarint(length) message`, where each message is exactly one
/// relay WebSocket binary message. Plain, gzip and zstd files are recognised by their magic bytes,
/// whatever their extension.
///
/// Messages are read one at a time through a fixed buffer, so a capture of any size streams in
/// constant memory. A record longer than `maxMessageSize` is an error before anything is allocated.
public final class CaptureReader: IteratorProtocol, Sequence {
    public let path: String
    public let maxMessageSize: Int
    private let source: any ByteSource
    private let file: FileByteSource
    private var buffer: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    private var sourceEnded = false
    /// Offset in the (decompressed) stream of `buffer[start]`, for error messages.
    private var streamOffset: UInt64 = 0
    /// The error that ended iteration through `next()`, if any.
    public private(set) var error: CaptureError?

    public init(path: String, maxMessageSize: Int = 5_000_000) throws(CaptureError) {
        self.path = path
        self.maxMessageSize = maxMessageSize
        let file = try FileByteSource(path: path)
        self.file = file
        let magic = file.peek(4)
        if magic.starts(with: [0x1f, 0x8b]) {
            source = try GzipByteSource(file, path: path)
        } else if magic == [0x28, 0xb5, 0x2f, 0xfd] {
            source = try ZstdByteSource(file, path: path)
        } else {
            source = file
        }
        buffer = .allocate(byteCount: 1 << 20, alignment: 8)
    }

    deinit { buffer.deallocate() }

    /// Bytes read from the file so far, compressed or not: compared with the file's size, how
    /// far through it the reader is (a little ahead of the messages returned, by what is buffered).
    public var fileBytesRead: Int { file.bytesRead }

    /// The next message, or nil at the end of the file.
    public func readMessage() throws(CaptureError) -> [UInt8]? {
        guard let record = try nextRecord() else { return nil }
        return [UInt8](record)
    }

    /// Up to `maxCount` next messages; fewer only at the end of the file (none there).
    ///
    /// Each message is an array of its own, so that holding one (in a queue) holds no others.
    public func readMessages(maxCount: Int) throws(CaptureError) -> [[UInt8]] {
        var messages: [[UInt8]] = []
        messages.reserveCapacity(maxCount)
        while messages.count < maxCount, let record = try nextRecord() { messages.append([UInt8](record)) }
        return messages
    }

    /// The next record's message in the read buffer (valid until the next call), or nil at the
    /// end of the file.
    private func nextRecord() throws(CaptureError) -> UnsafeRawBufferPointer? {
        guard try fill(atLeast: 1) else { return nil }
        let recordOffset = streamOffset
        // A varint is at most 10 bytes; fewer may be left near the end.
        _ = try fill(atLeast: 10)
        let available = UnsafeRawBufferPointer(rebasing: buffer[start..<end])
        var cursor = 0
        let length: UInt64
        do {
            length = try Varint.read(available, at: &cursor)
        } catch .truncated {
            throw CaptureError(.truncated(path: path, offset: recordOffset))
        } catch {
            throw CaptureError(.badLength(path: path, offset: recordOffset))
        }
        guard length <= UInt64(maxMessageSize) else {
            throw CaptureError(.messageTooLarge(path: path, offset: recordOffset, size: length, limit: maxMessageSize))
        }
        consume(cursor)
        let count = Int(length)
        guard try fill(atLeast: count) || count == 0 else {
            throw CaptureError(.truncated(path: path, offset: recordOffset))
        }
        guard end - start >= count else { throw CaptureError(.truncated(path: path, offset: recordOffset)) }
        let message = UnsafeRawBufferPointer(rebasing: buffer[start..<(start + count)])
        consume(count)
        return message
    }

    public func next() -> [UInt8]? {
        guard error == nil else { return nil }
        do {
            return try readMessage()
        } catch {
            self.error = error
            return nil
        }
    }

    private func consume(_ count: Int) {
        start += count
        streamOffset += UInt64(count)
    }

    /// Makes at least `count` bytes available from `start` unless the stream ends first; returns
    /// whether any byte is available.
    private func fill(atLeast count: Int) throws(CaptureError) -> Bool {
        if end - start >= count { return true }
        if count > buffer.count {
            let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 8)
            bigger.copyMemory(from: UnsafeRawBufferPointer(rebasing: buffer[start..<end]))
            end -= start
            start = 0
            buffer.deallocate()
            buffer = bigger
        } else if start > 0 {
            let live = end - start
            if live > 0 { buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: live) }
            start = 0
            end = live
        }
        while end - start < count && !sourceEnded {
            let n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[end...]))
            if n == 0 { sourceEnded = true } else { end += n }
        }
        return end > start
    }
}
