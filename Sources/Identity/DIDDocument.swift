import ATCrypto
import ATProto
import Foundation

/// The parts of a DID document atproto reads (WEB `specs/did`): the handle it claims
/// (`alsoKnownAs`), its verification methods (`#atproto` signs the repo, `#atproto_label` signs
/// labels) and its services (`#atproto_pds`, `#atproto_labeler`).
///
/// Everything else in the document is kept as JSON (`json`), so that a tool that rewrites one
/// entry can keep all the others exactly as they were.
public struct DIDDocument: Sendable, Equatable {
    public struct VerificationMethod: Sendable, Equatable {
        /// As written: `#atproto_label` or `did:…#atproto_label`.
        public var id: String
        public var type: String
        public var controller: String?
        public var publicKeyMultibase: String?
    }

    public struct Service: Sendable, Equatable {
        /// As written: `#atproto_pds` or `did:…#atproto_pds`.
        public var id: String
        public var type: String
        /// A string endpoint; nil when the document gives a map or a list (not used by atproto).
        public var endpoint: String?
    }

    public var id: DID
    public var alsoKnownAs: [String]
    public var verificationMethods: [VerificationMethod]
    public var services: [Service]

    /// Documents larger than this are refused: a real one is a few hundred bytes, and a resolver
    /// must not let a hostile host make it hold megabytes per account.
    public static let maximumSize = 64 * 1024

    /// Parses a document and checks that it is the one asked for (`id` equals `expected`).
    public init(json data: Data, expected: DID? = nil) throws(IdentityError) {
        guard data.count <= Self.maximumSize else {
            throw IdentityError.badDocument("larger than \(Self.maximumSize) bytes (\(data.count))")
        }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw IdentityError.badDocument("not JSON")
        }
        guard let root = object as? [String: Any] else { throw IdentityError.badDocument("not a JSON object") }
        guard let idText = root["id"] as? String else { throw IdentityError.badDocument("no \"id\"") }
        let id: DID
        do { id = try DID(idText) } catch { throw IdentityError.badDocument("\"id\" is not a DID: \(idText)") }
        if let expected, expected != id {
            throw IdentityError.badDocument("the document is for \(id), not \(expected)")
        }
        self.id = id
        alsoKnownAs = (root["alsoKnownAs"] as? [Any])?.compactMap { $0 as? String } ?? []
        verificationMethods = (root["verificationMethod"] as? [Any] ?? []).compactMap { entry in
            guard let entry = entry as? [String: Any], let id = entry["id"] as? String else { return nil }
            return VerificationMethod(
                id: id, type: entry["type"] as? String ?? "", controller: entry["controller"] as? String,
                publicKeyMultibase: entry["publicKeyMultibase"] as? String)
        }
        services = (root["service"] as? [Any] ?? []).compactMap { entry in
            guard let entry = entry as? [String: Any], let id = entry["id"] as? String else { return nil }
            return Service(
                id: id, type: entry["type"] as? String ?? "", endpoint: entry["serviceEndpoint"] as? String)
        }
    }

    public init(id: DID, alsoKnownAs: [String] = [], verificationMethods: [VerificationMethod], services: [Service]) {
        self.id = id
        self.alsoKnownAs = alsoKnownAs
        self.verificationMethods = verificationMethods
        self.services = services
    }

    /// Whether an entry's `id` names `fragment` (given without `#`) of this document: both
    /// `#fragment` and `<did>#fragment` are used in practice.
    func names(_ entryID: String, _ fragment: String) -> Bool {
        entryID == "#" + fragment || entryID == id.rawValue + "#" + fragment
    }

    /// The first verification method called `fragment` (`atproto`, `atproto_label`).
    public func verificationMethod(_ fragment: String) -> VerificationMethod? {
        verificationMethods.first { names($0.id, fragment) }
    }

    /// The key of the verification method called `fragment`, in either the Multikey form or the
    /// legacy `EcdsaSecp256…VerificationKey2019` form. There is no fallback from one fragment to
    /// another: a label key is `#atproto_label` or nothing.
    public func key(_ fragment: String) throws(IdentityError) -> PublicKey {
        guard let method = verificationMethod(fragment) else {
            throw IdentityError.missingKey(did: id, fragment: fragment)
        }
        guard let multibase = method.publicKeyMultibase else {
            throw IdentityError.badDocument("#\(fragment) has no publicKeyMultibase")
        }
        do {
            switch method.type {
            case "EcdsaSecp256k1VerificationKey2019":
                return try PublicKey(legacyMultibase: multibase, type: .secp256k1)
            case "EcdsaSecp256r1VerificationKey2019":
                return try PublicKey(legacyMultibase: multibase, type: .p256)
            default:
                return try PublicKey(multikey: multibase)
            }
        } catch {
            throw IdentityError.badDocument("#\(fragment) is not a usable key: \(error)")
        }
    }

    /// The endpoint of the service called `fragment` (`atproto_pds`, `atproto_labeler`).
    public func serviceEndpoint(_ fragment: String) -> String? {
        service(fragment)?.endpoint
    }

    /// The first service called `fragment`.
    public func service(_ fragment: String) -> Service? {
        services.first { names($0.id, fragment) }
    }

    /// The handle the document claims: the first `at://` entry of `alsoKnownAs` that is a valid
    /// handle. It is only a claim until the handle resolves back to this DID.
    public var claimedHandle: Handle? {
        for entry in alsoKnownAs where entry.hasPrefix("at://") {
            if let handle = try? Handle(String(entry.dropFirst(5))) { return handle }
        }
        return nil
    }
}
