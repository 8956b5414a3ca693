import Crypto

/// atproto signs `SHA-256(message)` on both curves (PROTOCOL §3.2 step 3).
enum MessageHash {
    static func sha256(_ message: [UInt8]) -> SHA256Digest {
        var hasher = SHA256()
        message.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        return hasher.finalize()
    }
}

extension SHA256Digest {
    var bytes: [UInt8] { withUnsafeBytes { Array($0) } }
}
