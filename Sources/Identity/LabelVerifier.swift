import ATCrypto
import ATProto

/// Checks label signatures against the key of the labeler that signed them: a did:key `src` is
/// its own key; any other DID's key is the `#atproto_label` key of its DID document (never
/// `#atproto`). A signature that fails is checked once more against a freshly resolved document
/// before it is called bad, since the labeler may have rotated its key since it was cached.
public actor LabelVerifier {
    public enum Verdict: Sendable, Equatable {
        case valid
        /// The signature does not verify against the current key (nor the cached one).
        case invalid
    }

    let resolver: IdentityResolver?
    let fixedKey: PublicKey?
    private var didKeys: [String: PublicKey] = [:]

    /// - Parameters:
    ///   - resolver: resolves DID documents; nil allows only did:key `src`s (and `fixedKey`).
    ///   - fixedKey: when given, every label is checked against it and nothing is resolved.
    public init(resolver: IdentityResolver?, fixedKey: PublicKey? = nil) {
        self.resolver = resolver
        self.fixedKey = fixedKey
    }

    public func verify(_ label: Label) async throws(IdentityError) -> Verdict {
        if let fixedKey { return label.verifySignature(with: fixedKey) ? .valid : .invalid }
        if label.src.hasPrefix("did:key:") {
            if let key = didKeys[label.src] { return label.verifySignature(with: key) ? .valid : .invalid }
            do {
                let key = try PublicKey(didKey: label.src)
                didKeys[label.src] = key
                return label.verifySignature(with: key) ? .valid : .invalid
            } catch {
                throw IdentityError.badDocument("src \(label.src) is not a usable did:key: \(error.message)")
            }
        }
        guard let resolver else {
            throw IdentityError.badDocument("\(label.src) needs its DID document resolved to check its labels")
        }
        let did: DID
        do { did = try DID(label.src) } catch { throw IdentityError.badDocument("src is not a DID: \(label.src)") }
        if label.verifySignature(with: try await resolver.key("atproto_label", of: did)) { return .valid }
        let fresh = try await resolver.key("atproto_label", of: did, fresh: true)
        return label.verifySignature(with: fresh) ? .valid : .invalid
    }
}
