/// Why a key, signature or key file could not be used.
///
/// Messages are one readable line and never contain private key material, so they are safe to log
/// or print from the command line.
public struct CryptoError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The broad reason, for callers that branch on it.
    public enum Kind: String, Equatable, Sendable {
        case invalidPrivateKey
        case invalidPublicKey
        case invalidDIDKey
        case unsupportedKeyType
        case signingFailed
        case invalidKeyFile
        case keyFileExists
        case keyFileIO
    }

    public let kind: Kind
    public let message: String

    init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
