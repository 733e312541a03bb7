import Foundation
import Hummingbird

/// Gives every error a JSON body `{"error": {"message": …}}`, including the
/// router's own 404 and 405, and maps failures to their status.
struct ErrorBodyMiddleware: RouterMiddleware {
    typealias Context = PoolRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let failure as APIFailure {
            throw failure.httpError
        } catch let error as HTTPError where error.status == .notFound && error.body == nil {
            if let allowed = Self.methods(of: request.uri.path), !allowed.contains(request.method) {
                throw HTTPError(.methodNotAllowed, headers: [.allow: allowed.map(\.rawValue).joined(separator: ", ")],
                                message: "\(request.uri.path) takes \(allowed.map(\.rawValue).joined(separator: ", ")), not \(request.method)")
            }
            throw HTTPError(.notFound, message: "no such path: \(request.uri.path)")
        } catch let error as HTTPError where error.body == nil {
            throw HTTPError(error.status, headers: error.headers, message: error.status.reasonPhrase)
        } catch let error as HTTPError {
            throw error
        } catch let error as DecodingError {
            throw HTTPError(.badRequest, message: "invalid JSON body: \(Self.describe(error))")
        } catch {
            context.logger.error("\(request.method) \(request.uri.path) failed: \(error)")
            throw HTTPError(.internalServerError, message: "internal error")
        }
    }

    /// The methods each path of the API takes (for 405 and its Allow header).
    static func methods(of path: String) -> [HTTPRequest.Method]? {
        switch path {
        case "/healthz", "/readyz", "/metrics", "/openapi.json", "/pool", "/prediction", "/swap_history", "/forecaster": [.get]
        case "/nodes", "/instances": [.get, .post]
        case "/usage", "/swap_request", "/forecaster/train": [.post]
        default:
            if path.hasPrefix("/swaps/"), path.hasSuffix("/approve") || path.hasSuffix("/rollback"), path.split(separator: "/").count == 3 { [.post] }
            else if path.hasPrefix("/instances/") || path.hasPrefix("/swaps/") { [.get] } else { nil }
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        }
        switch error {
        case .keyNotFound(let key, let c): return "\(path(c.codingPath + [key])) is missing"
        case .typeMismatch(let type, let c): return "\(path(c.codingPath)) should be \(type)"
        case .valueNotFound(let type, let c): return "\(path(c.codingPath)) should be \(type), not null"
        case .dataCorrupted(let c): return c.codingPath.isEmpty ? "not JSON" : "\(path(c.codingPath)): \(c.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
