import Foundation
import HTTPTypes

/// The dashboard's login: the token entered once in the login form opens a session
/// (`DashboardSessions`) whose id is kept in an HttpOnly, SameSite=Strict cookie, honoured only
/// on the dashboard's own paths (the JSON API still needs `Authorization: Bearer`). Every form
/// that posts carries a token derived from the session's id (`csrf`), which a page of another
/// site cannot know, and a post whose browser says it came from elsewhere is refused.
enum DashboardSession {
    static let cookie = "poolswap_session"

    /// The dashboard's paths: `/`, `/logout` and everything under `/ui/`.
    static func isDashboard(_ path: String) -> Bool { path == "/" || path == "/logout" || path.hasPrefix("/ui/") }

    /// The session id of a `Cookie` header, if it carries one.
    static func token(cookieHeader: String?) -> String? {
        guard let cookieHeader else { return nil }
        for part in cookieHeader.split(separator: ";") {
            let pair = part.split(separator: "=", maxSplits: 1)
            if pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces) == cookie {
                let value = pair[1].trimmingCharacters(in: .whitespaces)
                return value.isEmpty ? nil : value
            }
        }
        return nil
    }

    /// The cross-site request token of a session (or of a bearer token used on a page): a hash
    /// of its id, so nothing more is stored.
    static func csrf(token: String) -> String { String(APIToken.hash("poolswap-csrf\u{0}" + token).prefix(32)) }

    /// The cookie of session `id`; `Secure` when the request came over HTTPS (a proxy's
    /// `X-Forwarded-Proto`).
    static func setCookie(_ id: String, secure: Bool) -> String {
        "\(cookie)=\(id); Path=/; HttpOnly; SameSite=Strict; Max-Age=\(Int(DashboardSessions.lifetime.components.seconds))\(secure ? "; Secure" : "")"
    }
    static let clearCookie = "\(cookie)=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"

    /// The fields of an `application/x-www-form-urlencoded` body.
    static func form(_ body: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String { String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(s) }
            fields[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return fields
    }

    /// Whether a form post may proceed: its `csrf` field is the session's, and it comes from
    /// this site (`sameSite`).
    static func allows(fields: [String: String], csrf: String?, origin: String?, fetchSite: String?, host: String?) -> Bool {
        guard let csrf, fields["csrf"] == csrf else { return false }
        return sameSite(origin: origin, fetchSite: fetchSite, host: host)
    }

    /// Whether a post comes from this site, as far as the browser says: `Sec-Fetch-Site`
    /// same-origin or none (typed, bookmarked), else an `Origin` naming this host (compared
    /// without case). An opaque origin (`null`: sandboxed frames, data: pages) is refused;
    /// a client that sends neither header (curl, scripts) is not a browser another site drives.
    static func sameSite(origin: String?, fetchSite: String?, host: String?) -> Bool {
        if let fetchSite { return fetchSite == "same-origin" || fetchSite == "none" }
        guard let origin else { return true }
        guard origin != "null", let host else { return false }
        return origin.lowercased().hasSuffix("://" + host.lowercased())
    }
}
