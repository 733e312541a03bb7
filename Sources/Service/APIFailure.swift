import Hummingbird

/// An API call that cannot be done; the HTTP layer answers with its status and
/// `{"error": {"message": …}}`, the message naming the field or object.
public enum APIFailure: Error, CustomStringConvertible {
    case badRequest(String)
    case unauthorized(String)
    case forbidden(String)
    case notFound(String)
    case conflict(String)
    case unprocessable(String)

    public var description: String {
        switch self {
        case .badRequest(let m), .unauthorized(let m), .forbidden(let m), .notFound(let m), .conflict(let m), .unprocessable(let m): m
        }
    }

    var httpError: HTTPError {
        switch self {
        case .badRequest(let m): HTTPError(.badRequest, message: m)
        case .unauthorized(let m): HTTPError(.unauthorized, headers: [.wwwAuthenticate: "Bearer"], message: m)
        case .forbidden(let m): HTTPError(.forbidden, message: m)
        case .notFound(let m): HTTPError(.notFound, message: m)
        case .conflict(let m): HTTPError(.conflict, message: m)
        case .unprocessable(let m): HTTPError(.unprocessableContent, message: m)
        }
    }
}
