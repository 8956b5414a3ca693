#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The labeler's private key on disk: one line of text, `<type>:<64 hex chars>`, for example
/// `secp256k1:ab12…`. A bare 64-hex line is read too, with the curve supplied by the caller.
///
/// Files are created owner-only (0600) and never overwritten, so a mistyped command cannot replace
/// the key a published DID document points at. Error messages name the path but never the key.
public enum KeyFile {
    /// Key files are one short line; anything bigger is not a key file.
    static let maximumSize = 4096

    /// Parses key-file text. Surrounding whitespace (the trailing newline) is ignored.
    public static func parse(_ text: String, defaultType: KeyType) throws(CryptoError) -> SigningKey {
        let line = text.trimmingWhitespace()
        guard !line.isEmpty else { throw CryptoError(.invalidKeyFile, "key file is empty") }
        guard !line.contains(where: \.isNewline) else {
            throw CryptoError(.invalidKeyFile, "key file must hold a single line")
        }
        let type: KeyType
        let hex: Substring
        if let colon = line.firstIndex(of: ":") {
            guard let named = KeyType(rawValue: String(line[..<colon])) else {
                let known = KeyType.allCases.map(\.rawValue).joined(separator: " or ")
                throw CryptoError(.unsupportedKeyType, "key file names an unknown key type (expected \(known))")
            }
            type = named
            hex = line[line.index(after: colon)...]
        } else {
            type = defaultType
            hex = line[...]
        }
        return try SigningKey(type: type, rawPrivateKey: decodeHex(hex))
    }

    /// The file text for `key`: `<type>:<lowercase hex>` and a newline.
    public static func render(_ key: SigningKey) -> String {
        "\(key.type.rawValue):\(encodeHex(key.rawPrivateKey))\n"
    }

    /// Writes a new key file readable and writable by the owner only (mode 0600).
    ///
    /// The file is opened with `O_CREAT | O_EXCL`, so an existing file (or a symlink planted at
    /// `path`) is never overwritten or followed. A half-written file is removed.
    public static func create(at path: String, key: SigningKey) throws(CryptoError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let code = errno
            if code == EEXIST {
                throw CryptoError(.keyFileExists, "key file \(path) already exists; refusing to overwrite it")
            }
            throw CryptoError(.keyFileIO, "cannot create key file \(path): \(describe(code))")
        }
        var failure: CryptoError?
        // The process umask may have cleared bits; set exactly 0600.
        if fchmod(fd, 0o600) != 0 {
            failure = CryptoError(.keyFileIO, "cannot set mode 0600 on key file \(path): \(describe(errno))")
        } else if let code = writeAll(Array(render(key).utf8), to: fd) {
            failure = CryptoError(.keyFileIO, "cannot write key file \(path): \(describe(code))")
        } else if fsync(fd) != 0 {
            failure = CryptoError(.keyFileIO, "cannot flush key file \(path): \(describe(errno))")
        }
        if close(fd) != 0, failure == nil {
            failure = CryptoError(.keyFileIO, "cannot close key file \(path): \(describe(errno))")
        }
        if let failure {
            unlink(path)
            throw failure
        }
    }

    /// Reads and parses a key file (see `parse`).
    public static func load(at path: String, defaultType: KeyType) throws(CryptoError) -> SigningKey {
        let bytes = try readAll(path)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw CryptoError(.invalidKeyFile, "key file \(path) is not UTF-8 text")
        }
        do {
            return try parse(text, defaultType: defaultType)
        } catch {
            throw CryptoError(error.kind, "key file \(path): \(error.message)")
        }
    }

    // MARK: - Hex

    static func encodeHex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Exactly 32 bytes of hex, either case.
    static func decodeHex(_ text: Substring) throws(CryptoError) -> [UInt8] {
        let chars = Array(text.utf8)
        guard chars.count == 64 else {
            throw CryptoError(.invalidKeyFile, "private key must be 64 hex characters, got \(chars.count)")
        }
        var out = [UInt8]()
        out.reserveCapacity(32)
        var index = 0
        while index < chars.count {
            guard let high = hexValue(chars[index]), let low = hexValue(chars[index + 1]) else {
                throw CryptoError(.invalidKeyFile, "private key contains a character that is not a hex digit")
            }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    // MARK: - POSIX I/O

    /// Writes every byte, retrying on short writes and EINTR. Returns the errno on failure.
    private static func writeAll(_ bytes: [UInt8], to fd: Int32) -> Int32? {
        bytes.withUnsafeBytes { buffer -> Int32? in
            var offset = 0
            while offset < buffer.count {
                let n = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += n
            }
            return nil
        }
    }

    private static func readAll(_ path: String) throws(CryptoError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw CryptoError(.keyFileIO, "cannot open key file \(path): \(describe(errno))")
        }
        defer { close(fd) }
        var out = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CryptoError(.keyFileIO, "cannot read key file \(path): \(describe(errno))")
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[..<n])
            guard out.count <= maximumSize else {
                throw CryptoError(.invalidKeyFile, "key file \(path) is larger than \(maximumSize) bytes")
            }
        }
        return out
    }

    private static func describe(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}

extension String {
    /// The text without leading and trailing whitespace and newlines.
    fileprivate func trimmingWhitespace() -> Substring {
        guard let first = firstIndex(where: { !$0.isWhitespace }),
            let last = lastIndex(where: { !$0.isWhitespace })
        else { return self[endIndex...] }
        return self[first...last]
    }
}
