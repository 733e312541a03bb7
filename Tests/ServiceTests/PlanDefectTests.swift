import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
@testable import Service
import Storage
import Testing

/// Defects found by reading the code, each with the test that failed before its fix.
@Suite("Plans: defects fixed")
struct PlanDefectTests {
    @Test func maxChangesKeepsOnlySwapsThatFitWithoutTheOnesItDrops() async throws {
        let harness = try await ServiceHarness()
        try await harness.test { client in
            try await harness.registerPool(client)
            try await harness.feed(client, rounds: 30)
            // a1's grow saves the most but needs more than the 1 core free on n1: only a2's shrink makes room.
            let body = #"{"instances":["a1","a2"],"maxChanges":1,"dryRun":true}"#
            let plan = try await client.execute(uri: "/swap_request", method: .post, headers: harness.headers("operator"), body: ByteBuffer(string: body)) { response in
                #expect(response.status == .ok)
                return try json(response.body)
            }
            let swaps = try #require(plan["swaps"] as? [[String: Any]])
            #expect(swaps.map { $0["instance"] as? String } == ["a2"], "the grow without its room is dropped: \(swaps.map { $0["instance"] ?? "" })")
            // The objective after is the model's, of what would run.
            let before = try #require(plan["objectiveBefore"] as? Double), after = try #require(plan["objectiveAfter"] as? Double)
            let benefit = try #require(swaps.first?["benefit"] as? Double)
            #expect(abs((before - after) - benefit) < 1e-6 * max(1, before), "before \(before) − after \(after) = \(before - after), benefit \(benefit)")
            // Queued, it runs without breaking the node.
            try await client.execute(uri: "/swap_request", method: .post, headers: harness.headers("operator"),
                                     body: ByteBuffer(string: #"{"instances":["a1","a2"],"maxChanges":1,"dryRun":false}"#)) { response in
                #expect(response.status == .accepted)
            }
            try await harness.feed(client, rounds: 1, from: 30)
            let a2 = try #require(try await harness.store.swapHistory(SwapHistoryQuery(instance: "a2")).first)
            #expect(a2.outcome == .verifying)
            let n1 = await harness.service.runtime.allInstances().filter { $0.node == "n1" }.reduce(0) { $0 + $1.allocation[0] }
            #expect(n1 <= 7 + 1e-9, "n1 holds \(n1) of 7 allocatable cores")
        }
    }

    @Test func aQueuedPlanThatCannotBeReadBackFailsWithItsReasonInsteadOfStayingQueued() async throws {
        let harness = try await ServiceHarness()
        try await harness.test { client in
            try await harness.registerPool(client)
            try await harness.store.save(plan: PlanRecord(id: "plan-broken", created: 0, status: .queued, tenant: nil, request: "{}", answer: "{\"swaps\": [trunc"))
            try await harness.feed(client, rounds: 1)
            #expect(try await harness.store.plan(id: "plan-broken")?.status == .failed)
            #expect(try await harness.store.plans(status: .queued).isEmpty)
            let journal = try await harness.store.journal(plan: "plan-broken")
            #expect(journal.contains { $0.phase == "failed" && $0.detail.contains("cannot be read back") })
        }
    }

    @Test func theLoopSwapsOnItsOwnOnceWarmAndKeepsEveryNodeWithinCapacity() async throws {
        let harness = try await ServiceHarness { $0.warmupRounds = 12 }
        try await harness.test { client in
            try await harness.registerPool(client)
            try await harness.feed(client, rounds: 20)
            let swaps = try await harness.store.swapHistory(SwapHistoryQuery(limit: 100))
            #expect(swaps.contains { $0.instance == "a1" && $0.after[0] > $0.before[0] }, "a1 starves and is grown: \(swaps.map { "\($0.instance) \($0.before[0])→\($0.after[0])" })")
            #expect(swaps.contains { $0.instance == "a2" && $0.after[0] < $0.before[0] }, "a2 idles and is shrunk")
            #expect(swaps.filter(\.tookEffect).allSatisfy { $0.outcome == .committed || $0.outcome == .verifying })
            #expect(swaps.contains { $0.outcome == .committed && $0.realisedBenefit != nil })
            let pool = await harness.service.runtime.poolView()
            for node in pool.nodes {
                for r in 0..<3 { #expect(node.allocated.values[r] <= node.capacity.values[r] - node.reserve.values[r] + 1e-9, "\(node.id)") }
            }
        }
    }
}
