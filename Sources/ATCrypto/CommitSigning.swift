import ATProto

/// Repo commit signatures (WEB `specs/repository` "Commit Objects"): ECDSA over SHA-256 of the
/// commit's canonical DAG-CBOR without `sig`, 64-byte compact low-S `r ‖ s`, by the account's
/// `#atproto` key. Checked as strictly as label signatures (``PublicKey/verify(signature:for:)``).
extension SignedCommit {
    /// Whether `signature` is `key`'s over the commit's unsigned bytes.
    public func verifySignature(with key: PublicKey) -> Bool {
        key.verify(signature: signature, for: unsignedBytes)
    }

    /// The signed block of an unsigned commit `{did, version: 3, data, rev, prev}`: what a PDS
    /// writes. For tests and tools that build repositories; the labeler only verifies.
    public static func signedBlock(
        did: String, rev: String, data: CID, prev: CID? = nil, key: SigningKey
    ) throws(CryptoError) -> [UInt8] {
        let unsigned: CBORMap = [
            "did": .text(CBORText(did)), "version": 3, "data": .link(data), "rev": .text(CBORText(rev)),
            "prev": prev.map { CBORValue.link($0) } ?? .null,
        ]
        let sig = try key.sign(CBOREncoder.encode(.map(unsigned)))
        return CBOREncoder.encode(.map(unsigned.setting("sig", to: .bytes(sig[...]))))
    }
}
