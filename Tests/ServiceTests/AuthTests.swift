import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import Service

@Suite("Auth and tenants")
struct AuthTests {
    @Test func everyEndpointButHealthzNeedsAToken() async throws {
        let harness = try await ServiceHarness()
        try await harness.test { client in
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
            for (uri, method) in [("/pool", HTTPRequest.Method.get), ("/instances", .get), ("/prediction?instance=a1", .get),
                                  ("/swap_history", .get), ("/usage", .post), ("/swap_request", .post), ("/metrics", .get),
                                  ("/readyz", .get), ("/openapi.json", .get), ("/nodes", .post), ("/swaps/x", .get),
                                  ("/forecaster", .get), ("/forecaster/train", .post)] {
                try await client.execute(uri: uri, method: method, body: ByteBuffer(string: "{}")) { response in
                    #expect(response.status == .unauthorized, "\(method) \(uri)")
                    #expect(errorMessage(response.body)?.contains("token") == true)
                }
                try await client.execute(uri: uri, method: method, headers: harness.headers("ps_not-a-real-token"), body: ByteBuffer(string: "{}")) { response in
                    #expect(response.status == .unauthorized, "\(method) \(uri) with a wrong token")
                }
            }
        }
    }

    @Test func aTokenIsReadWithoutTheBlanksAroundIt() async throws {
        let harness = try await ServiceHarness()
        try await harness.test { client in
            let token = try #require(harness.tokens["reader"])
            for header in ["Bearer \(token)", "Bearer   \(token)", "Bearer \t\(token) \t "] {
                try await client.execute(uri: "/instances", method: .get, headers: [.authorization: header]) { #expect($0.status == .ok, "\(header)") }
            }
            for header in ["Bearer \(token)x", "Bearer \(token.dropLast())", "Bearer"] {
                try await client.execute(uri: "/instances", method: .get, headers: [.authorization: header]) { #expect($0.status == .unauthorized, "\(header)") }
            }
        }
    }

    /// The methods the 405 answer allows are the ones the OpenAPI document declares, path by path.
    @Test func theAllowedMethodsAreTheDocumentsOwn() throws {
        let document = try #require(try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.text.utf8)) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        #expect(paths.count >= 15, "the document lists the API's paths")
        for (path, operations) in paths {
            let concrete = path.replacingOccurrences(of: #"\{[^}]+\}"#, with: "x", options: .regularExpression)
            let declared = Set(operations.keys.filter { ["get", "post", "put", "delete", "patch"].contains($0) }.map { $0.uppercased() })
            let allowed = Set((ErrorBodyMiddleware.methods(of: concrete) ?? []).map(\.rawValue))
            #expect(allowed == declared, "\(path)")
        }
    }

    @Test func rolesLimitWhatATokenMayDo() async throws {
        let harness = try await ServiceHarness()
        try await harness.test { client in
            try await harness.registerPool(client)
            let usage = ByteBuffer(string: #"{"samples":[]}"#)
            try await client.execute(uri: "/usage", method: .post, headers: harness.headers("reader"), body: usage) { #expect($0.status == .forbidden) }
            try await client.execute(uri: "/usage", method: .post, headers: harness.headers("operator"), body: usage) { #expect($0.status == .ok) }
            try await client.execute(uri: "/swap_request", method: .post, headers: harness.headers("reader"), body: ByteBuffer(string: "{}")) { #expect($0.status == .forbidden) }
            let node = ByteBuffer(string: #"{"id":"n9","capacity":{"cpu":1,"memory":1,"gpu":0}}"#)
            try await client.execute(uri: "/nodes", method: .post, headers: harness.headers("operator"), body: node) { #expect($0.status == .forbidden) }
            try await client.execute(uri: "/nodes", method: .post, headers: harness.headers("acme"), body: node) { #expect($0.status == .forbidden, "nodes are not a tenant's") }
            try await client.execute(uri: "/pool", method: .get, headers: harness.headers("reader")) { #expect($0.status == .ok) }
        }
    }

    @Test func aTenantSeesOnlyItsOwnAndOthersAre404() async throws {
        let harness = try await ServiceHarness()
        try await harness.test { client in
            try await harness.registerPool(client)
            try await harness.feed(client, rounds: 3)
            try await client.execute(uri: "/instances", method: .get, headers: harness.headers("acme-reader")) { response in
                let ids = ((try json(response.body))["instances"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
                #expect(ids == ["a1", "a2"])
            }
            for uri in ["/instances/g1", "/prediction?instance=g1"] {
                try await client.execute(uri: uri, method: .get, headers: harness.headers("acme-reader")) { response in
                    #expect(response.status == .notFound, "\(uri)")
                    #expect(errorMessage(response.body) == "instance g1 not found")
                }
                try await client.execute(uri: uri, method: .get, headers: harness.headers("reader")) { #expect($0.status == .ok, "\(uri)") }
            }
            // A tenant's token pushing another tenant's samples: refused per sample, as an unknown instance.
            let t = ServiceHarness.start + 3 * 300 + 5
            let batch = ByteBuffer(string: #"{"samples":[{"instance":"a1","time":\#(t),"cpu":1,"memory":1},{"instance":"g1","time":\#(t),"cpu":1,"memory":1}]}"#)
            try await client.execute(uri: "/usage", method: .post, headers: harness.headers("globex"), body: batch) { response in
                let receipt = try json(response.body)
                #expect(receipt["accepted"] as? Int == 1)
                #expect((receipt["reasons"] as? [String: Int])?["unknown instance"] == 1)
            }
            try await client.execute(uri: "/instances", method: .post, headers: harness.headers("acme"),
                                     body: ByteBuffer(string: #"{"id":"g1","tenant":"acme","node":"n1","allocation":{"cpu":1,"memory":1,"gpu":0},"sla":{"maximum":{"cpu":2,"memory":2,"gpu":0}}}"#)) { response in
                #expect(response.status == .conflict, "acme cannot take over globex's instance")
            }
            try await client.execute(uri: "/pool", method: .get, headers: harness.headers("acme-reader")) { #expect($0.status == .forbidden) }
        }
    }
}
