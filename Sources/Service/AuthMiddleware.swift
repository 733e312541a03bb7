import Foundation
import Hummingbird
import Storage
import Synchronization

/// Resolves `Authorization: Bearer <token>` to a principal: the token's
/// SHA-256 is looked up in the store (then cached). Every path but
/// `/healthz` needs a valid token: 401 otherwise.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = PoolRequestContext
    let store: any PoolStore
    let cache = TokenCache()

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.path == "/healthz" { return try await next(request, context) }
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            throw APIFailure.unauthorized("a bearer token is required (Authorization: Bearer <token>)").httpError
        }
        // Trimmed by hand: Foundation's trimmingCharacters was 7% of a GET /prediction.
        var token = header.dropFirst("Bearer ".count)
        while let c = token.first, c == " " || c == "\t" { token.removeFirst() }
        while let c = token.last, c == " " || c == "\t" { token.removeLast() }
        let hash = APIToken.hash(String(token))
        var principal = cache.principals.withLock { $0[hash] }
        if principal == nil, let record = try await store.token(hash: hash) {
            principal = Principal(name: record.name, role: record.role, tenant: record.tenant)
            cache.principals.withLock { $0[hash] = principal }
        }
        guard let principal else { throw APIFailure.unauthorized("unknown token").httpError }
        var context = context
        context.principal = principal
        return try await next(request, context)
    }
}

/// Principals of tokens seen before, by token hash.
final class TokenCache: Sendable {
    let principals = Mutex<[String: Principal]>([:])
}
