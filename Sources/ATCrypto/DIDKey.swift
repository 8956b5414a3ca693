import ATProto

/// Multikey and did:key text forms (PROTOCOL §5, WEB `specs/cryptography`):
/// `"z"` + base58btc(multicodec varint ‖ 33-byte compressed point), so secp256k1 keys read `zQ3s…`
/// and P-256 keys `zDn…`; `did:key:` + that string is the did:key.
extension PublicKey {
    static let didKeyPrefix = "did:key:"

    /// The Multikey string, as published in a DID document's `publicKeyMultibase`.
    public var multikey: String {
        var bytes = Varint.encode(type.multicodec)
        bytes.append(contentsOf: compressed)
        return "z" + Base58.encode(bytes)
    }

    /// `did:key:` followed by the Multikey.
    public var didKey: String { Self.didKeyPrefix + multikey }

    /// Parses a `did:key:z…` string; a bare Multikey (`z…`) is accepted too.
    public init(didKey: String) throws(CryptoError) {
        let multikey = didKey.hasPrefix(Self.didKeyPrefix) ? String(didKey.dropFirst(Self.didKeyPrefix.count)) : didKey
        try self.init(multikey: multikey)
    }

    /// Parses a Multikey: base58btc (`z`), a known curve's multicodec, then a compressed point.
    /// Uncompressed points after the codec are accepted as well, since some older tools wrote them.
    public init(multikey: String) throws(CryptoError) {
        guard multikey.hasPrefix("z") else {
            throw CryptoError(.invalidDIDKey, "multikey must start with 'z' (base58btc)")
        }
        let bytes: [UInt8]
        do {
            bytes = try Multibase.decode(multikey)
        } catch {
            throw CryptoError(.invalidDIDKey, "multikey is not valid base58btc: \(error)")
        }
        let codec: UInt64, length: Int
        do {
            (codec, length) = try Varint.read(from: bytes)
        } catch {
            throw CryptoError(.invalidDIDKey, "multikey has no multicodec prefix: \(error)")
        }
        guard let type = KeyType.allCases.first(where: { $0.multicodec == codec }) else {
            let hex = String(codec, radix: 16)
            throw CryptoError(.unsupportedKeyType, "multikey codec 0x\(hex) is neither secp256k1-pub nor p256-pub")
        }
        try self.init(type: type, compressedOrUncompressed: Array(bytes[length...]))
    }

    /// Parses the legacy DID-document form (`EcdsaSecp256k1VerificationKey2019` /
    /// `EcdsaSecp256r1VerificationKey2019`): `"z"` + base58btc of the bare point, with no multicodec
    /// prefix, so the curve has to come from the verification method's `type`. Read, never written.
    public init(legacyMultibase: String, type: KeyType) throws(CryptoError) {
        guard legacyMultibase.hasPrefix("z") else {
            throw CryptoError(.invalidPublicKey, "legacy publicKeyMultibase must start with 'z' (base58btc)")
        }
        let bytes: [UInt8]
        do {
            bytes = try Multibase.decode(legacyMultibase)
        } catch {
            throw CryptoError(.invalidPublicKey, "legacy publicKeyMultibase is not valid base58btc: \(error)")
        }
        try self.init(type: type, compressedOrUncompressed: bytes)
    }
}
