/// How a moderator calls the admin endpoint without the admin token: with a service-auth token
/// for `tools.ozone.moderation.emitEvent` that their PDS mints, as Ozone's clients do. The check
/// (signature, audience, who may sign) is passed in by the wiring, so this module resolves no
/// identities itself.
public struct ModeratorAuth: Sendable {
    /// Checks a service-auth token for `method`; returns the moderator's DID, or throws an error
    /// whose description is the one-line reason the caller gets with its 401.
    public typealias Authenticate = @Sendable (_ token: String, _ method: String) async throws -> String

    public var authenticate: Authenticate

    public init(authenticate: @escaping Authenticate) {
        self.authenticate = authenticate
    }

    /// Whether a bearer token has the shape of a JWT (`header.payload.signature`), and so is
    /// checked as service auth rather than as the admin token.
    static func isJWT(_ token: String) -> Bool {
        token.split(separator: ".", omittingEmptySubsequences: false).count == 3
    }
}
