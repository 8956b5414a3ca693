import ATProto

/// Label signatures (PROTOCOL §3.2): ECDSA over SHA-256 of the label's canonical DAG-CBOR without
/// `sig`, stored as 64-byte compact low-S `r ‖ s`.
extension Label {
    /// A copy of this label with `sig` set by `key`. Any existing `sig` is replaced, since it is
    /// not part of the signed bytes.
    public func signed(with key: SigningKey) throws(CryptoError) -> Label {
        var copy = self
        copy.sig = try key.sign(unsignedBytes())
        return copy
    }

    /// Whether `sig` is a valid signature by `key` over the label's fields as they stand.
    /// False when there is no `sig`.
    public func verifySignature(with key: PublicKey) -> Bool {
        guard let sig else { return false }
        return key.verify(signature: sig, for: unsignedBytes())
    }
}
