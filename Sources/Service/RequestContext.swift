import Hummingbird

/// Hummingbird's request context plus the caller, set by `AuthMiddleware`.
public struct PoolRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var principal: Principal?
    /// On the dashboard's paths: the session's cross-site request token (`DashboardSession.csrf`).
    public var csrf: String?

    public init(source: Source) {
        coreContext = .init(source: source)
        principal = nil
        csrf = nil
    }

    public var maxUploadSize: Int { 64 << 20 }

    func require(_ action: Principal.Action) throws -> Principal {
        guard let principal else { throw APIFailure.unauthorized("a bearer token is required").httpError }
        guard principal.may(action) else {
            throw APIFailure.forbidden("the \(principal.role.rawValue) token \"\(principal.name)\" may not do this").httpError
        }
        return principal
    }
}
