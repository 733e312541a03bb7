import Foundation
import Synchronization

/// The dashboard's logins: a random session id in the cookie, the token it stands for kept
/// here (by its hash), for 12 hours or until logout. A copied cookie is not the API token and
/// dies with the session; a restart logs everyone out.
final class DashboardSessions: Sendable {
    struct Session: Sendable {
        let tokenHash: String
        let expires: ContinuousClock.Instant
    }
    static let lifetime = Duration.seconds(12 * 3600)
    /// Sessions by the SHA-256 of their id, so the table holds nothing a cookie could be made from.
    private let sessions = Mutex<[String: Session]>([:])

    /// A new session for the token of hash `tokenHash`: its id, for the cookie.
    func open(tokenHash: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let id = (0..<4).map { _ in String(format: "%016llx", generator.next() as UInt64) }.joined()
        let now = ContinuousClock.now
        sessions.withLock { table in
            table = table.filter { $0.value.expires > now }
            table[APIToken.hash(id)] = Session(tokenHash: tokenHash, expires: now + Self.lifetime)
        }
        return id
    }

    /// The token hash of a live session, nil for an unknown or expired id.
    func tokenHash(of id: String) -> String? {
        let key = APIToken.hash(id), now = ContinuousClock.now
        return sessions.withLock { table in
            guard let session = table[key] else { return nil }
            guard session.expires > now else { table[key] = nil; return nil }
            return session.tokenHash
        }
    }

    func close(_ id: String) { _ = sessions.withLock { $0.removeValue(forKey: APIToken.hash(id)) } }
}
