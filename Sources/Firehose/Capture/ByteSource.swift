#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A stream of bytes read in chunks: a file, or a decompressor over a file.
protocol ByteSource: AnyObject {
    /// Reads up to `buffer.count` bytes; returns 0 only at the end of the stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(CaptureError) -> Int
}

/// A file opened read-only, closed on deinit.
final class FileByteSource: ByteSource {
    let path: String
    private let fd: Int32
    /// Bytes read from the file so far (compressed bytes for a compressed capture): how far
    /// through the file a reader is, for progress against the file's size.
    private(set) var bytesRead = 0

    init(path: String) throws(CaptureError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CaptureError(.cannotOpen(path: path, reason: String(cString: strerror(errno)))) }
        self.fd = fd
    }

    deinit { close(fd) }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(CaptureError) -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 {
                bytesRead += n
                return n
            }
            if errno == EINTR { continue }
            throw CaptureError(.readFailed(path: path, reason: String(cString: strerror(errno))))
        }
    }

    /// The first bytes of the file, for sniffing its compression, without moving the read position.
    func peek(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, 0) }
        return Array(bytes.prefix(max(0, n)))
    }
}
