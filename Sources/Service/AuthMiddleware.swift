import Foundation
import Hummingbird
import Storage
import Synchronization

/// Resolves `Authorization: Bearer <token>` to a principal: the token's
/// SHA-256 is looked up in the store (then cached). Every path but
/// `/healthz` and `/login` needs a valid token: 401 otherwise. The dashboard's
/// paths (`DashboardSession.isDashboard`) also take the login cookie, and send a
/// browser without a valid one to `/login`.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = PoolRequestContext
    let store: any PoolStore
    let sessions: DashboardSessions
    let cache = TokenCache()

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if path == "/healthz" || path == "/login" { return try await next(request, context) }
        let dashboard = DashboardSession.isDashboard(path)
        // The token's hash, and on a dashboard page what the session's forms are keyed to.
        let hash: String?, secret: String
        if let header = request.headers[.authorization], header.hasPrefix("Bearer ") {
            // Trimmed by hand: Foundation's trimmingCharacters was 7% of a GET /prediction.
            var token = header.dropFirst("Bearer ".count)
            while let c = token.first, c == " " || c == "\t" { token.removeFirst() }
            while let c = token.last, c == " " || c == "\t" { token.removeLast() }
            hash = APIToken.hash(String(token))
            secret = String(token)
        } else if dashboard, let session = DashboardSession.token(cookieHeader: request.headers[.cookie]) {
            hash = sessions.tokenHash(of: session)
            secret = session
        } else if dashboard {
            return Response(status: .seeOther, headers: [.location: "/login"])
        } else {
            throw APIFailure.unauthorized("a bearer token is required (Authorization: Bearer <token>)").httpError
        }
        guard let hash, let principal = try await principal(hash: hash) else {
            if dashboard { return Response(status: .seeOther, headers: [.location: "/login", .setCookie: DashboardSession.clearCookie]) }
            throw APIFailure.unauthorized("unknown token").httpError
        }
        var context = context
        context.principal = principal
        if dashboard { context.csrf = DashboardSession.csrf(token: secret) }
        return try await next(request, context)
    }

    /// The principal of the token of hash `hash`, from the cache or the store; nil for an unknown token.
    func principal(hash: String) async throws -> Principal? {
        if let known = cache.principals.withLock({ $0[hash] }) { return known }
        guard let record = try await store.token(hash: hash) else { return nil }
        let principal = Principal(name: record.name, role: record.role, tenant: record.tenant)
        cache.principals.withLock { $0[hash] = principal }
        return principal
    }
}

/// Principals of tokens seen before, by token hash.
final class TokenCache: Sendable {
    let principals = Mutex<[String: Principal]>([:])
}
