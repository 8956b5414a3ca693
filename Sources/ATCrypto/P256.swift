import Crypto

/// The one place swift-crypto's P-256 is called. Like `Secp256k1`, it speaks plain byte arrays.
///
/// swift-crypto leaves `s` as the signer produced it (about half of its signatures are high-S) and
/// accepts both forms when verifying, so the atproto low-S rule is applied here in both directions.
enum P256Curve {
    /// Whether `key` is a usable private scalar (32 bytes in `1..<n`).
    static func isValidPrivateKey(_ key: [UInt8]) -> Bool {
        BigEndian256.isScalar(key, below: CurveOrder.p256)
            && (try? P256.Signing.PrivateKey(rawRepresentation: key)) != nil
    }

    /// A fresh private key from the system's secure generator.
    static func generatePrivateKey() -> [UInt8] {
        // compactRepresentable: false keeps every key reachable instead of only those whose public
        // point has the "compact" form; atproto has no use for compact keys.
        Array(P256.Signing.PrivateKey(compactRepresentable: false).rawRepresentation)
    }

    /// The 33-byte compressed public key of a valid private key.
    static func publicKey(forPrivateKey key: [UInt8]) -> [UInt8]? {
        guard let privateKey = try? P256.Signing.PrivateKey(rawRepresentation: key) else { return nil }
        return Array(privateKey.publicKey.compressedRepresentation)
    }

    /// Parses a 33-byte compressed or 65-byte uncompressed point (checking it is on the curve) and
    /// returns it compressed.
    static func compressedPublicKey(from bytes: [UInt8]) -> [UInt8]? {
        let key: P256.Signing.PublicKey
        switch bytes.count {
        case 33:
            guard let k = try? P256.Signing.PublicKey(compressedRepresentation: bytes) else { return nil }
            key = k
        case 65:
            guard let k = try? P256.Signing.PublicKey(x963Representation: bytes) else { return nil }
            key = k
        default:
            return nil
        }
        return Array(key.compressedRepresentation)
    }

    /// ECDSA over a SHA-256 digest (the digest overload, so nothing is hashed twice), returned as
    /// 64-byte compact `r ‖ s` in low-S form.
    static func sign(digest: SHA256Digest, privateKey: [UInt8]) -> [UInt8]? {
        guard let key = try? P256.Signing.PrivateKey(rawRepresentation: privateKey),
            let signature = try? key.signature(for: digest)
        else { return nil }
        let raw = Array(signature.rawRepresentation)
        guard raw.count == 64 else { return nil }
        return LowS.normalize(raw, curve: .p256)
    }

    /// Checks a 64-byte compact signature over a SHA-256 digest, rejecting high-S first.
    static func verify(signature: [UInt8], digest: SHA256Digest, publicKey: [UInt8]) -> Bool {
        guard signature.count == 64, LowS.isLowS(signature, curve: .p256),
            let key = try? P256.Signing.PublicKey(compressedRepresentation: publicKey),
            let parsed = try? P256.Signing.ECDSASignature(rawRepresentation: signature)
        else { return false }
        return key.isValidSignature(parsed, for: digest)
    }
}
