/// A private signing key on either atproto curve.
///
/// The secret never appears in `description`, `debugDescription` or `dump` output: they show only
/// the curve and the public did:key, so a key can be logged by accident without leaking.
public struct SigningKey: Sendable {
    public let type: KeyType
    private let secret: [UInt8]
    /// Derived once at construction; deriving is a full scalar multiplication.
    public let publicKey: PublicKey

    /// A new random key from the system's secure generator.
    public static func generate(_ type: KeyType) -> SigningKey {
        switch type {
        case .secp256k1:
            // A uniformly random 32-byte string is in 1..<n except with probability ~2^-128; retry then.
            while true {
                let candidate = SecureRandom.bytes(32)
                if let key = try? SigningKey(type: type, rawPrivateKey: candidate) { return key }
            }
        case .p256:
            do {
                return try SigningKey(type: type, rawPrivateKey: P256Curve.generatePrivateKey())
            } catch {
                preconditionFailure("swift-crypto generated an invalid P-256 key")
            }
        }
    }

    /// Wraps a raw 32-byte big-endian private scalar, which must lie in `1..<n` for the curve.
    public init(type: KeyType, rawPrivateKey: [UInt8]) throws(CryptoError) {
        guard rawPrivateKey.count == 32 else {
            throw CryptoError(
                .invalidPrivateKey, "\(type.rawValue) private key must be 32 bytes, got \(rawPrivateKey.count)")
        }
        let point: [UInt8]?
        switch type {
        case .secp256k1:
            point = Secp256k1.isValidPrivateKey(rawPrivateKey) ? Secp256k1.publicKey(forPrivateKey: rawPrivateKey) : nil
        case .p256:
            point = P256Curve.isValidPrivateKey(rawPrivateKey) ? P256Curve.publicKey(forPrivateKey: rawPrivateKey) : nil
        }
        guard let point else {
            throw CryptoError(
                .invalidPrivateKey, "\(type.rawValue) private key is out of range (zero, or not below the curve order)")
        }
        self.type = type
        self.secret = rawPrivateKey
        self.publicKey = PublicKey(type: type, validatedCompressed: point)
    }

    /// The raw 32-byte private scalar, for writing a key file.
    public var rawPrivateKey: [UInt8] { secret }

    /// Signs `SHA-256(message)` with ECDSA and returns the 64-byte compact `r ‖ s`, always in
    /// low-S form (PROTOCOL §3.2 step 4). secp256k1 nonces are deterministic (RFC 6979).
    public func sign(_ message: [UInt8]) throws(CryptoError) -> [UInt8] {
        let digest = MessageHash.sha256(message)
        let signature: [UInt8]?
        switch type {
        case .secp256k1: signature = Secp256k1.sign(digest: digest.bytes, privateKey: secret)
        case .p256: signature = P256Curve.sign(digest: digest, privateKey: secret)
        }
        guard let signature, signature.count == 64 else {
            throw CryptoError(.signingFailed, "\(type.rawValue) signing failed")
        }
        return signature
    }
}

extension SigningKey: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "SigningKey(\(type.rawValue), public: \(publicKey.didKey), private: <redacted>)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror {
        Mirror(self, children: ["type": type, "publicKey": publicKey.didKey], displayStyle: .struct)
    }
}
