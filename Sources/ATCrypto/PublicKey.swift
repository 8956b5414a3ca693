/// A public key on either atproto curve, held as its 33-byte compressed point.
///
/// Every initializer checks that the point is on the curve, so a `PublicKey` value is always
/// usable for verification. Two keys are equal when curve and point are equal.
public struct PublicKey: Hashable, Sendable {
    public let type: KeyType
    private let point: [UInt8]

    /// The 33-byte compressed point (`02`/`03` ‖ X).
    public var compressed: [UInt8] { point }

    /// Accepts the 33-byte compressed or 65-byte uncompressed (`04` ‖ X ‖ Y) SEC1 form.
    public init(type: KeyType, compressedOrUncompressed bytes: [UInt8]) throws(CryptoError) {
        guard bytes.count == 33 || bytes.count == 65 else {
            throw CryptoError(
                .invalidPublicKey,
                "\(type.rawValue) public key must be 33 (compressed) or 65 (uncompressed) bytes, got \(bytes.count)")
        }
        let compressed: [UInt8]? =
            switch type {
            case .secp256k1: Secp256k1.compressedPublicKey(from: bytes)
            case .p256: P256Curve.compressedPublicKey(from: bytes)
            }
        guard let compressed else {
            throw CryptoError(.invalidPublicKey, "bytes are not a point on the \(type.rawValue) curve")
        }
        self.type = type
        self.point = compressed
    }

    /// An already-validated compressed point, straight from the curve library.
    init(type: KeyType, validatedCompressed point: [UInt8]) {
        self.type = type
        self.point = point
    }

    /// Verifies a 64-byte compact `r ‖ s` signature over `message` (hashed here with SHA-256).
    ///
    /// atproto is strict (PROTOCOL §3.2 step 5): only the low-S form counts, and DER-encoded or
    /// otherwise sized signatures are rejected outright, not converted.
    public func verify(signature: [UInt8], for message: [UInt8]) -> Bool {
        guard signature.count == 64, LowS.isLowS(signature, curve: type) else { return false }
        let digest = MessageHash.sha256(message)
        switch type {
        case .secp256k1:
            return Secp256k1.verify(signature: signature, digest: digest.bytes, publicKey: point)
        case .p256:
            return P256Curve.verify(signature: signature, digest: digest, publicKey: point)
        }
    }
}

extension PublicKey: CustomStringConvertible {
    public var description: String { didKey }
}
