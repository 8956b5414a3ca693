import Synchronization

/// The dashboard's logged-in sessions, kept in memory: a restart logs everyone out, which for
/// the one operator token is cheaper than a session table and leaves nothing on disk to steal.
///
/// A session is a random id (the cookie) and a random CSRF token (in every form the pages
/// render). Both are 32 random bytes from the system's generator (getrandom on Linux), so
/// neither can be guessed; the CSRF token is never in a cookie, so a page of another site that
/// makes the browser send the cookie cannot know it.
final class DashboardSessions: Sendable {
    struct Session: Sendable, Equatable {
        let id: String
        let csrfToken: String
        let expires: ContinuousClock.Instant
    }

    /// How long a login lasts, whatever is done meanwhile: a forgotten tab is logged out.
    let lifetime: Duration
    /// Most sessions kept at once; past it the oldest go first, so repeated logins cannot
    /// grow memory without bound.
    let capacity: Int
    private let sessions = Mutex<[String: Session]>([:])

    init(lifetime: Duration = .seconds(12 * 3600), capacity: Int = 256) {
        self.lifetime = lifetime
        self.capacity = max(1, capacity)
    }

    /// A new session, valid for `lifetime` from `now`.
    func create(at now: ContinuousClock.Instant) -> Session {
        let session = Session(id: Self.randomToken(), csrfToken: Self.randomToken(), expires: now + lifetime)
        sessions.withLock { sessions in
            sessions = sessions.filter { $0.value.expires > now }
            while sessions.count >= capacity, let oldest = sessions.values.min(by: { $0.expires < $1.expires }) {
                sessions[oldest.id] = nil
            }
            sessions[session.id] = session
        }
        return session
    }

    /// The session `id` names, unless it is unknown or expired (an expired one is dropped).
    func session(_ id: String?, at now: ContinuousClock.Instant) -> Session? {
        guard let id, !id.isEmpty else { return nil }
        return sessions.withLock { sessions in
            guard let session = sessions[id] else { return nil }
            guard session.expires > now else {
                sessions[id] = nil
                return nil
            }
            return session
        }
    }

    /// Ends a session (logout).
    func remove(_ id: String) {
        _ = sessions.withLock { $0.removeValue(forKey: id) }
    }

    var count: Int { sessions.withLock { $0.count } }

    /// Whether `presented` is the session's CSRF token, compared in constant time.
    static func csrfMatches(_ presented: String?, _ session: Session) -> Bool {
        guard let presented else { return false }
        return AdminToken.constantTimeEqual(Array(presented.utf8), Array(session.csrfToken.utf8))
    }

    /// 32 random bytes as 64 lowercase hex digits (safe in a cookie and a form field as is).
    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for _ in 0..<4 {
            var word = generator.next() as UInt64
            for _ in 0..<16 {
                out.append(digits[Int(word & 0xf)])
                word >>= 4
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
