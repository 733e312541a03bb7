import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The agent's side of the server's API: JSON over HTTP with a bearer token.
public struct AgentClient: Sendable {
    public let server: URL
    public let token: String
    public var timeout: TimeInterval = 10

    public init(server: URL, token: String) {
        self.server = server
        self.token = token
    }

    public struct Reply: Sendable {
        public var status: Int
        public var body: Data
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// One request; throws only when no answer came (server unreachable, timeout).
    public func send(_ method: String, _ path: String, body: Data? = nil) async throws -> Reply {
        var request = URLRequest(url: server.appendingPathComponent(path), timeoutInterval: timeout)
        request.httpMethod = method
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        if let body {
            request.httpBody = body
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        return Reply(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data)
    }
}
