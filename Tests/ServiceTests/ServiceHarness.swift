import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Service
import Storage
import Testing

/// A service on a fresh SQLite file with a small registered pool (no demo),
/// and one token per role. The loop is driven by the test through `runOnce`.
struct ServiceHarness: Sendable {
    let service: ServiceApplication
    let store: SQLiteStore
    let tokens: [String: String]
    /// Seconds per round: the configuration's interval.
    let interval: Int64
    static let start: Int64 = 1_700_000_000

    init(configure: (inout ServiceConfiguration) -> Void = { _ in }, wallClock: (@Sendable () -> Int64)? = nil) async throws {
        var configuration = ServiceConfiguration()
        configuration.demo = false
        configuration.warmupRounds = 1_000_000
        configure(&configuration)
        interval = Int64(configuration.interval)
        store = try SQLiteStore(path: NSTemporaryDirectory() + "poolswap-service-\(UUID().uuidString).sqlite")
        service = try await ServiceApplication(configuration: configuration, store: store, logger: Logger(label: "test"), now: Self.start, wallClock: wallClock)
        var tokens: [String: String] = [:]
        for (name, role, tenant) in [("admin", TokenRecord.Role.admin, nil), ("operator", .operator, nil), ("reader", .reader, nil),
                                     ("acme", .admin, "acme"), ("acme-reader", .reader, "acme"), ("globex", .operator, "globex")] as [(String, TokenRecord.Role, String?)] {
            let token = APIToken.generate()
            try await store.insert(token: TokenRecord(hash: APIToken.hash(token), name: name, role: role, tenant: tenant, created: 0))
            tokens[name] = token
        }
        self.tokens = tokens
    }

    func test(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let app = Application(router: service.router())
        try await app.test(.router, body)
    }

    func headers(_ who: String?) -> HTTPFields {
        var fields: HTTPFields = [.contentType: "application/json"]
        if let who { fields[.authorization] = "Bearer \(tokens[who] ?? who)" }
        return fields
    }

    /// Two nodes and four instances: two of acme (a1 starving, a2 idle) and two of globex.
    func registerPool(_ client: any TestClientProtocol) async throws {
        for node in [#"{"id":"n1","capacity":{"cpu":8,"memory":32,"gpu":0},"reserve":{"cpu":1,"memory":2,"gpu":0}}"#,
                     #"{"id":"n2","capacity":{"cpu":16,"memory":64,"gpu":0}}"#] {
            try await client.execute(uri: "/nodes", method: .post, headers: headers("admin"), body: ByteBuffer(string: node)) { response in
                #expect(response.status == .created, "\(String(buffer: response.body))")
            }
        }
        for (id, tenant, node, cpu) in [("a1", "acme", "n1", 2.0), ("a2", "acme", "n1", 4.0), ("g1", "globex", "n2", 4.0), ("g2", "globex", "n2", 2.0)] {
            let body = #"{"id":"\#(id)","tenant":"\#(tenant)","node":"\#(node)","allocation":{"cpu":\#(cpu),"memory":4,"gpu":0},"sla":{"minimum":{"cpu":0.5,"memory":1,"gpu":0},"maximum":{"cpu":8,"memory":16,"gpu":0},"weight":3}}"#
            try await client.execute(uri: "/instances", method: .post, headers: headers("admin"), body: ByteBuffer(string: body)) { response in
                #expect(response.status == .created, "\(String(buffer: response.body))")
            }
        }
    }

    /// Pushes `rounds` slots of usage (a1 busy near 3 cores, the rest light) and runs the loop after each.
    func feed(_ client: any TestClientProtocol, rounds: Int, from first: Int = 0) async throws {
        for k in first..<(first + rounds) {
            let t = Self.start + Int64(k) * interval
            let wobble = Double(k % 3) * 0.05
            let samples = [("a1", 3.0 + wobble), ("a2", 0.5 + wobble), ("g1", 1.0 + wobble), ("g2", 0.4 + wobble)]
                .map { #"{"instance":"\#($0.0)","time":\#(t + 10),"cpu":\#($0.1),"memory":2}"# }.joined(separator: ",")
            try await client.execute(uri: "/usage", method: .post, headers: headers("operator"), body: ByteBuffer(string: #"{"samples":[\#(samples)]}"#)) { response in
                #expect(response.status == .ok)
            }
            try await service.loop.runOnce(time: t)
        }
    }
}

func json(_ buffer: ByteBuffer) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(String(buffer: buffer).utf8)) as? [String: Any])
}

func errorMessage(_ buffer: ByteBuffer) -> String? {
    ((try? json(buffer))?["error"] as? [String: Any])?["message"] as? String
}
