import Drivers
import Execution
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

    @Test func anOperatorsMovesAreScopedLockedAndCounted() async throws {
        let harness = try await SimulatedHarness { $0.cooldownRounds = 6; $0.maxMigrations = 1 }
        let foreign = APIToken.generate()
        try await harness.store.insert(token: TokenRecord(hash: APIToken.hash(foreign), name: "globex", role: .operator, tenant: "globex", created: 0))
        try await harness.test { client in
            try await harness.rounds(8, from: 0)
            let (hidden, _) = try await harness.post(client, "/swap_request", #"{"nodes":{"other":"n1"},"dryRun":false}"#, as: foreign)
            #expect(hidden == .notFound, "another tenant's instance is not there")
            let (two, answer) = try await harness.post(client, "/swap_request", #"{"nodes":{"other":"n1","idle":"n2"}}"#)
            #expect(two == .unprocessableContent && "\(answer)".contains("maxMigrations"), "\(answer)")
            let (allowed, _) = try await harness.post(client, "/swap_request", #"{"nodes":{"other":"n1","idle":"n2"},"maxMigrations":2}"#)
            #expect(allowed == .ok, "the request's own limit")
            let (moved, _) = try await harness.post(client, "/swap_request", #"{"nodes":{"other":"n1"},"dryRun":false}"#)
            #expect(moved == .accepted)
            try await harness.rounds(1, from: 8)
            #expect(try await harness.store.instance(id: "other")?.node == "n1")
            let (back, why) = try await harness.post(client, "/swap_request", #"{"nodes":{"other":"n2"}}"#)
            #expect(back == .conflict, "a move locks its instance (verified, then cooling down): \(why)")
        }
    }

    @Test func theSolverIsOfferedOnlyTheNodesEstimatedWithinTheLimitsAtTheDearestPrice() throws {
        var risk = RiskPolicy()
        risk.maxMigrationSeconds = 60
        risk.maxDowntimeMilliseconds = 500
        #expect(PlanFormulation.migrationOptions([nil, nil], risk: risk) == nil, "no estimate, no move")
        let estimates: [MigrationEstimate?] = [
            nil,                                                                   // its own node
            MigrationEstimate(seconds: 5, downtimeMilliseconds: 400, transferred: 4),
            MigrationEstimate(seconds: 30, downtimeMilliseconds: 100, transferred: 4),
            MigrationEstimate(seconds: 90, downtimeMilliseconds: 100, transferred: 4),   // beyond maxMigrationSeconds
            MigrationEstimate(seconds: 5, downtimeMilliseconds: 900, transferred: 4),    // beyond maxDowntimeMilliseconds
        ]
        let options = try #require(PlanFormulation.migrationOptions(estimates, risk: risk))
        #expect(options.targets == [1, 2])
        #expect(options.dearest == MigrationEstimate(seconds: 30, downtimeMilliseconds: 400, transferred: 4), "the dearest figures of the two")
        #expect(PlanFormulation.migrationOptions(estimates, risk: risk, force: true)?.targets == [1, 2, 3, 4], "forced: every node estimated")

        let configuration = ServiceConfiguration()
        let nodes = ["n1", "n2", "n3"].map { NodeRecord(id: $0, capacity: [8, 32, 0], reserve: [0, 0, 0]) }
        let record = InstanceRecord(id: "vm", tenant: "acme", node: "n1", allocation: [2, 4, 0], minimum: [0, 0, 0], maximum: [8, 32, 0], weight: 1)
        var formulation = PlanFormulation(configuration: configuration, registry: try PoolRegistry(nodes: nodes, instances: [record]),
                                          locked: [:], migrates: true)
        let costs = (waste: configuration.wasteCost, shortfall: configuration.shortfallCost)
        #expect(formulation.migrationPrice(record, demand: [1, 2, 0], waste: costs.waste, shortfall: costs.shortfall) == configuration.migrationFixedCost)
        formulation.migrationOptions["vm"] = options
        let price = formulation.migrationPrice(record, demand: [1, 2, 0], waste: costs.waste, shortfall: costs.shortfall)
        #expect(price > configuration.migrationFixedCost)
        #expect(formulation.migrationPrice(record, demand: [1, 2, 0], waste: costs.waste.map { $0 * 2 }, shortfall: costs.shortfall) > price,
                "at the plan's own costs (a cost-reduction plan doubles waste)")
    }
}

/// The `qemu` object of the configuration file: each mistake named by its field.
struct QEMUSettingsTests {
    func load(_ qemu: String) throws -> ServiceConfiguration {
        let path = NSTemporaryDirectory() + "poolswap-qemu-settings-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try #"{"driver": "qemu", "demo": false, "qemu": \#(qemu)}"#.write(toFile: path, atomically: true, encoding: .utf8)
        return try ServiceConfiguration.load(file: path, environment: [:])
    }

    static let node = #"{"id": "node-1", "capacity": [4, 4, 0], "namespace": "ns1", "address": "10.0.0.1", "bandwidthMbit": 200}"#
    static func machine(_ extra: String = "") -> String {
        #"{"id": "vm1", "node": "node-1", "memoryMiB": 256, "kernel": "/bin/sh", "initrd": "/bin/sh"\#(extra)}"#
    }

    @Test func aGoodObjectIsReadWithItsDefaults() throws {
        let settings = try #require(try load(#"{"nodes": [\#(Self.node)], "machines": [\#(Self.machine(#", "allocation": [1, 0.25, 0]"#))]}"#).qemu)
        #expect(settings.nodes.first?.node.bandwidth == 25_000_000, "200 Mbit/s in bytes a second")
        #expect(settings.machines.first?.machine.maxCPUs == 4 && settings.runDirectory == "/run/poolswap/qemu")
    }

    @Test(arguments: [
        (#"{"nodes": []}"#, "qemu.nodes must list"),
        (#"{"nodes": [{"id": "../x", "capacity": [4, 4, 0]}]}"#, "the id \"../x\""),
        (#"{"nodes": [{"id": "n", "capacity": [4, 4, 0], "reserve": [5, 0, 0]}]}"#, "qemu.nodes.n.reserve"),
        (#"{"nodes": [\#(node)], "machines": [\#(machine(#", "allocation": [8, 0.25]"#))]}"#, "qemu.machines.vm1.allocation: 8.0 cores"),
        (#"{"nodes": [\#(node)], "machines": [\#(machine(#", "allocation": [1, 1]"#))]}"#, "more than its memoryMiB"),
        (#"{"nodes": [\#(node)], "machines": [{"id": "vm1", "node": "node-1", "kernel": "/nowhere/vmlinuz", "initrd": "/bin/sh"}]}"#, "qemu.machines.vm1.kernel: no file"),
        (#"{"nodes": [\#(node)], "machines": [{"id": "vm1", "node": "node-2", "kernel": "/bin/sh", "initrd": "/bin/sh"}]}"#, "qemu.machines.vm1.node"),
        (#"{"nodes": [\#(node)], "machines": [{"id": "vm1", "node": "node-1", "initrd": "/bin/sh"}]}"#, "qemu.machines[0].kernel is missing"),
        (#"{"nodes": [\#(node)], "downtimeLimitSeconds": 90}"#, "qemu.downtimeLimitSeconds"),
    ])
    func aMistakeIsNamed(qemu: String, message: String) throws {
        #expect { _ = try load(qemu) } throws: { "\($0)".contains(message) }
    }

    @Test func theQEMUDriverNeedsItsObject() throws {
        #expect { _ = try ServiceConfiguration.load(file: nil, environment: ["POOLSWAP_DRIVER": "qemu", "POOLSWAP_DEMO": "false"]) } throws: {
            "\($0)".contains("needs the qemu object")
        }
    }
}
