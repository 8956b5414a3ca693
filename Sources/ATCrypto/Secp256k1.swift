import CSecp256k1

/// The one place libsecp256k1 is called. Everything here takes and returns plain byte arrays, so
/// no C type leaves this file.
///
/// A single context serves the whole process. It is created once and randomized (blinding against
/// timing and power side channels); after that every call below takes it as `const`, which
/// libsecp256k1 documents as safe to share between threads.
enum Secp256k1 {
    private final class Context: @unchecked Sendable {
        let pointer: OpaquePointer

        init() {
            guard let ctx = secp256k1_context_create(UInt32(SECP256K1_CONTEXT_NONE)) else {
                fatalError("secp256k1_context_create failed")
            }
            var seed = SecureRandom.bytes(32)
            defer { for i in seed.indices { seed[i] = 0 } }
            // Always succeeds for a context from secp256k1_context_create; blinding is best effort.
            _ = secp256k1_context_randomize(ctx, seed)
            pointer = ctx
        }
    }

    private static let context = Context()
    private static var ctx: OpaquePointer { context.pointer }

    /// Whether `key` is 32 bytes in `1..<n`.
    static func isValidPrivateKey(_ key: [UInt8]) -> Bool {
        key.count == 32 && secp256k1_ec_seckey_verify(ctx, key) == 1
    }

    /// The 33-byte compressed public key of a valid private key.
    static func publicKey(forPrivateKey key: [UInt8]) -> [UInt8]? {
        guard key.count == 32 else { return nil }
        var pubkey = secp256k1_pubkey()
        guard secp256k1_ec_pubkey_create(ctx, &pubkey, key) == 1 else { return nil }
        return serializeCompressed(&pubkey)
    }

    /// Parses a 33-byte compressed or 65-byte uncompressed point (checking it is on the curve) and
    /// returns it compressed.
    static func compressedPublicKey(from bytes: [UInt8]) -> [UInt8]? {
        guard bytes.count == 33 || bytes.count == 65 else { return nil }
        var pubkey = secp256k1_pubkey()
        guard secp256k1_ec_pubkey_parse(ctx, &pubkey, bytes, bytes.count) == 1 else { return nil }
        return serializeCompressed(&pubkey)
    }

    /// ECDSA over a 32-byte digest with an RFC 6979 deterministic nonce. The result is the 64-byte
    /// compact `r ‖ s`, and libsecp256k1 always produces the low-S form.
    static func sign(digest: [UInt8], privateKey: [UInt8]) -> [UInt8]? {
        guard digest.count == 32, privateKey.count == 32 else { return nil }
        var signature = secp256k1_ecdsa_signature()
        guard secp256k1_ecdsa_sign(ctx, &signature, digest, privateKey, nil, nil) == 1 else { return nil }
        var out = [UInt8](repeating: 0, count: 64)
        guard secp256k1_ecdsa_signature_serialize_compact(ctx, &out, &signature) == 1 else { return nil }
        return out
    }

    /// Checks a 64-byte compact signature over a 32-byte digest. `secp256k1_ecdsa_verify` rejects
    /// high-S signatures by itself, and the compact parser rejects `r` or `s` ≥ n.
    static func verify(signature: [UInt8], digest: [UInt8], publicKey: [UInt8]) -> Bool {
        guard signature.count == 64, digest.count == 32 else { return false }
        var parsed = secp256k1_ecdsa_signature()
        var pubkey = secp256k1_pubkey()
        return secp256k1_ecdsa_signature_parse_compact(ctx, &parsed, signature) == 1
            && secp256k1_ec_pubkey_parse(ctx, &pubkey, publicKey, publicKey.count) == 1
            && secp256k1_ecdsa_verify(ctx, &parsed, digest, &pubkey) == 1
    }

    private static func serializeCompressed(_ pubkey: inout secp256k1_pubkey) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: 33)
        var length = out.count
        guard secp256k1_ec_pubkey_serialize(ctx, &out, &length, &pubkey, UInt32(SECP256K1_EC_COMPRESSED)) == 1,
            length == 33
        else { return nil }
        return out
    }
}
