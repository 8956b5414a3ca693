import ATProto

/// Why an identity could not be resolved. Each case reads as one line for an operator, naming the
/// DID, handle or URL involved.
public enum IdentityError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The directory or host answered that the DID or handle does not exist (404, NXDOMAIN).
    case notFound(String)
    /// Nothing answered within the resolver's timeout.
    case timeout(url: String, seconds: Double)
    /// The host answered with an unexpected HTTP status.
    case httpStatus(url: String, status: Int)
    /// The host could not be reached (connection refused, TLS failure, DNS failure).
    case unreachable(url: String, reason: String)
    /// The answer is not a usable DID document (or handle answer).
    case badDocument(String)
    /// The document has no key under that fragment.
    case missingKey(did: DID, fragment: String)
    /// A DID method atproto does not resolve (only `plc` and `web` are blessed).
    case unsupportedMethod(DID)
    /// The handle resolves to a DID whose document does not claim it back, or to none at all.
    case handleMismatch(handle: Handle, reason: String)
    /// A DNS query failed or its answer could not be read.
    case dns(String)

    public var description: String {
        switch self {
        case .notFound(let what): "\(what) does not exist"
        case .timeout(let url, let seconds): "\(url): no answer within \(Self.format(seconds)) s"
        case .httpStatus(let url, let status): "\(url): HTTP \(status)"
        case .unreachable(let url, let reason): "\(url): unreachable: \(reason)"
        case .badDocument(let reason): "bad DID document: \(reason)"
        case .missingKey(let did, let fragment): "\(did) has no #\(fragment) key in its DID document"
        case .unsupportedMethod(let did): "\(did): only did:plc and did:web can be resolved"
        case .handleMismatch(let handle, let reason): "handle \(handle): \(reason)"
        case .dns(let reason): "DNS: \(reason)"
        }
    }

    private static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }
}
