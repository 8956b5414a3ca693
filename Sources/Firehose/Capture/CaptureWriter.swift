import ATProto

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a plain capture file: `uvarint(length) message` per relay message.
public final class CaptureWriter {
    public let path: String
    private let file: UnsafeMutablePointer<FILE>

    /// Creates (or truncates) `path`.
    public init(path: String) throws(CaptureError) {
        self.path = path
        guard let file = fopen(path, "wb") else {
            throw CaptureError(.cannotWrite(path: path, reason: String(cString: strerror(errno))))
        }
        self.file = file
    }

    deinit { fclose(file) }

    public func write(_ message: some Collection<UInt8>) throws(CaptureError) {
        var record = Varint.encode(UInt64(message.count))
        record.append(contentsOf: message)
        let written = record.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        guard written == record.count else {
            throw CaptureError(.cannotWrite(path: path, reason: String(cString: strerror(errno))))
        }
    }

    /// Flushes buffered records to the file.
    public func flush() throws(CaptureError) {
        guard fflush(file) == 0 else {
            throw CaptureError(.cannotWrite(path: path, reason: String(cString: strerror(errno))))
        }
    }
}
