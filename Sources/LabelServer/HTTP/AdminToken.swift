/// The bearer token that guards the admin endpoint.
struct AdminToken: Sendable {
    private let expected: [UInt8]

    /// nil when `token` is nil or empty: the admin endpoint is then disabled.
    init?(_ token: String?) {
        guard let token, !token.isEmpty else { return nil }
        expected = Array(token.utf8)
    }

    /// Whether an `Authorization` header carries the token. The comparison takes the same time
    /// whatever the presented token is, so response times reveal nothing about how much of it
    /// was right.
    func accepts(authorization: String?) -> Bool {
        guard let authorization else { return false }
        let scheme = "Bearer "
        guard authorization.count > scheme.count,
            authorization.prefix(scheme.count).lowercased() == scheme.lowercased()
        else { return false }
        let presented = Array(authorization.utf8.dropFirst(scheme.utf8.count))
        return Self.constantTimeEqual(presented, expected)
    }

    /// Whether `token` is the token (the dashboard's login form), in constant time too.
    func accepts(token: String) -> Bool {
        Self.constantTimeEqual(Array(token.utf8), expected)
    }

    /// Compares every byte of `expected`, whatever the lengths and contents.
    static func constantTimeEqual(_ presented: [UInt8], _ expected: [UInt8]) -> Bool {
        var difference = UInt64(presented.count ^ expected.count)
        for i in 0..<expected.count {
            let byte = i < presented.count ? presented[i] : 0
            difference |= UInt64(byte ^ expected[i])
        }
        return difference == 0
    }
}
