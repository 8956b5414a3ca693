/// The two elliptic curves atproto allows for signing keys (PROTOCOL §5).
///
/// The raw values are the names used in key files and on the command line.
public enum KeyType: String, Sendable, CaseIterable {
    /// secp256k1 ("K-256", JWT `ES256K`), multicodec `secp256k1-pub`.
    case secp256k1
    /// NIST P-256 (secp256r1, JWT `ES256`), multicodec `p256-pub`.
    case p256

    /// Multicodec code that prefixes the public key in a Multikey / did:key.
    var multicodec: UInt64 {
        switch self {
        case .secp256k1: 0xE7
        case .p256: 0x1200
        }
    }

    /// Order `n` of the curve's base point, 32 bytes big-endian. Scalars (private keys, `r`, `s`)
    /// live in `1..<n`.
    var order: [UInt8] {
        switch self {
        case .secp256k1: CurveOrder.secp256k1
        case .p256: CurveOrder.p256
        }
    }

    /// `n / 2` rounded down: the largest `s` a low-S signature may have.
    var halfOrder: [UInt8] {
        switch self {
        case .secp256k1: CurveOrder.secp256k1Half
        case .p256: CurveOrder.p256Half
        }
    }
}
