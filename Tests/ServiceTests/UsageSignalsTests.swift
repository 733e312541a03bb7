import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Storage
import Testing
@testable import Service

/// The optional `throttled` and `oomKills` of a pushed sample: the server bumps the memory of a
/// slot with OOM kills above the limit it holds, and refuses what cannot be.
@Suite("Usage samples with throttling and OOM kills")
struct UsageSignalsTests {
    @Test func oomKillsBumpMemoryAboveTheLimitAndBadSignalsAreRefused() async throws {
        let harness = try await ServiceHarness()
        try await harness.test { client in
            try await harness.registerPool(client)
            let t = ServiceHarness.start + 20
            // a1 and a2 hold 4 GiB each: a1 was OOM-killed, a2 was not.
            let batch = #"{"samples":[{"instance":"a1","time":\#(t),"cpu":2.5,"memory":3.9,"throttled":0.5,"oomKills":2},{"instance":"a2","time":\#(t),"cpu":0.5,"memory":3.9,"oomKills":0},{"instance":"g1","time":\#(t),"cpu":1,"memory":1,"throttled":1.5},{"instance":"g2","time":\#(t),"cpu":1,"memory":1,"throttled":-0.1}]}"#
            try await client.execute(uri: "/usage", method: .post, headers: harness.headers("operator"), body: ByteBuffer(string: batch)) { response in
                let receipt = try json(response.body)
                #expect(receipt["accepted"] as? Int == 2)
                #expect(receipt["reasons"] as? [String: Int] == ["throttled above cpu": 1, "negative": 1])
            }
            let a1 = try await harness.store.samples(instance: "a1", from: t, to: t + 1)
            let a2 = try await harness.store.samples(instance: "a2", from: t, to: t + 1)
            #expect(a1.map(\.used) == [[2.5, 4 * 1.2, 0]], "OOM-killed at a 4 GiB limit: 20% above it")
            #expect(a2.map(\.used) == [[0.5, 3.9, 0]], "no kill, no bump")
            let fractional = #"{"samples":[{"instance":"a1","time":\#(t + 300),"cpu":1,"memory":1,"oomKills":1.5}]}"#
            try await client.execute(uri: "/usage", method: .post, headers: harness.headers("operator"), body: ByteBuffer(string: fractional)) { response in
                #expect(response.status == .badRequest)
                #expect(errorMessage(response.body)?.hasPrefix("samples[0].oomKills") == true, "\(String(buffer: response.body))")
            }
        }
    }

    @Test func aSmallLimitIsBumpedByAtLeast100MiB() {
        #expect(OOMDemand.memory(0.05, oomKills: 1, limit: 0.0625) == 0.0625 + 100.0 / 1024)
        #expect(OOMDemand.memory(0.05, oomKills: 0, limit: 0.0625) == 0.05)
        #expect(OOMDemand.memory(0.05, oomKills: 3, limit: nil) == 0.05, "no limit known: nothing to bump to")
        #expect(OOMDemand.memory(9, oomKills: 1, limit: 4) == 9, "what was seen above the bump stays")
    }
}
