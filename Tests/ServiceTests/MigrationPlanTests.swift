import Drivers
import Foundation
import PoolCore
@testable import Service
import Storage
import Testing

/// Migrations in plans: the operator's moves (`nodes` in a swap request) and the nodes and
/// price the solver is offered, from the driver's estimates.
struct MigrationPlanTests {
    @Test func anOperatorMovesAnInstanceToAnotherNodeOnTheDriverAndInTheLedger() async throws {
        let harness = try await SimulatedHarness()
        try await harness.test { client in
            try await harness.rounds(8, from: 0)
            let (dry, planned) = try await harness.post(client, "/swap_request", #"{"nodes":{"other":"n1"}}"#)
            #expect(dry == .ok)
            let swap = try #require((planned["swaps"] as? [[String: Any]])?.first)
            #expect(swap["fromNode"] as? String == "n2" && swap["toNode"] as? String == "n1")
            let benefit = try #require(swap["benefit"] as? Double)
            #expect(benefit <= -0.5, "the move's price, at least migrationFixedCost, is its benefit's cost: \(benefit)")
            let assessment = try #require((swap["risk"] as? [String: Any])?["assessment"] as? [String: Any])
            #expect(assessment["migration"] is [String: Any], "the driver's estimate is in the risk report")

            let (status, _) = try await harness.post(client, "/swap_request", #"{"nodes":{"other":"n1"},"dryRun":false}"#)
            #expect(status == .accepted)
            try await harness.rounds(1, from: 8)
            let found = try await harness.driver.inventory().instances.first { $0.id == "other" }
            #expect(found?.node == "n1", "the driver has moved it")
            #expect(try await harness.store.instance(id: "other")?.node == "n1", "and the ledger says so")
        }
    }

    @Test func aMoveToAnUnknownNodeIsRefusedAndAMoveInPlaceIsNone() async throws {
        let harness = try await SimulatedHarness()
        try await harness.test { client in
            try await harness.rounds(8, from: 0)
            let (unknown, answer) = try await harness.post(client, "/swap_request", #"{"nodes":{"other":"n9"},"dryRun":false}"#)
            #expect(unknown == .unprocessableContent, "\(answer)")
            let (stay, planned) = try await harness.post(client, "/swap_request", #"{"nodes":{"other":"n2"}}"#)
            #expect(stay == .ok)
            #expect((planned["swaps"] as? [Any])?.isEmpty == true)
            #expect(try await harness.store.instance(id: "other")?.node == "n2")
        }
    }

    @Test func theSolverIsOfferedOnlyTheNodesEstimatedWithinTheLimitsAtTheDearestPrice() throws {
        var configuration = ServiceConfiguration()
        configuration.risk.maxMigrationSeconds = 60
        configuration.risk.maxDowntimeMilliseconds = 500
        let nodes = ["n1", "n2", "n3", "n4"].map { NodeRecord(id: $0, capacity: [8, 32, 0], reserve: [0, 0, 0]) }
        let record = InstanceRecord(id: "vm", tenant: "acme", node: "n1", allocation: [2, 4, 0], minimum: [0, 0, 0], maximum: [8, 32, 0], weight: 1)
        var formulation = PlanFormulation(configuration: configuration, registry: try PoolRegistry(nodes: nodes, instances: [record]),
                                          locked: [:], migrates: true)
        let none = formulation.migrationOptions(record, demand: [1, 2, 0], nodes: nodes, horizon: 3)
        #expect(none.targets.isEmpty && none.price == configuration.migrationFixedCost, "no estimate, no move")
        formulation.migrationEstimates["vm"] = [
            "n2": MigrationEstimate(seconds: 5, downtimeMilliseconds: 100, transferred: 4),
            "n3": MigrationEstimate(seconds: 30, downtimeMilliseconds: 300, transferred: 4),
            "n4": MigrationEstimate(seconds: 90, downtimeMilliseconds: 100, transferred: 4),   // beyond maxMigrationSeconds
        ]
        let options = formulation.migrationOptions(record, demand: [1, 2, 0], nodes: nodes, horizon: 3)
        #expect(options.targets == [1, 2], "n2 and n3, not n4 (too long) nor n1 (its own)")
        formulation.migrationEstimates["vm"]?["n2"] = nil
        let dearest = formulation.migrationOptions(record, demand: [1, 2, 0], nodes: nodes, horizon: 3)
        #expect(dearest.targets == [2] && dearest.price == options.price, "the price is n3's, the dearer of the two")
        #expect(options.price > configuration.migrationFixedCost)
    }
}
