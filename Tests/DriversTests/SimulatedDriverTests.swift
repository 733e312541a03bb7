import Drivers
import Foundation
import PoolCore
import Testing

/// The simulated pool of the suite: busy wants 2 cores and holds 1 GiB, idle 0.01 cores and
/// 0.1 GiB, hungry 0.1 cores and 2 GiB against a 1 GiB limit; two nodes.
struct SimulatedFixture: DriverFixture {
    let driver: any InstanceDriver
    let simulated: SimulatedDriver
    let busy: InstanceID = "busy"
    let idle: InstanceID = "idle"
    let hungry: InstanceID = "hungry"
    let slot = SlotCounter()

    final class SlotCounter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func next() -> Int { lock.lock(); defer { lock.unlock() }; value += 1; return value }
    }

    static func pool(stateFile: String? = nil) throws -> SimulatedDriver {
        let demand: [(InstanceID, ResourceVector)] = [("busy", ResourceVector(cpu: 2, memory: 1)), ("idle", ResourceVector(cpu: 0.01, memory: 0.1)),
                                                      ("hungry", ResourceVector(cpu: 0.1, memory: 2))]
        let slots = 10
        let trace = UsageTrace(origin: 1_700_000_100, interval: 300, instances: demand.map { id, d in
            InstanceSeries(id: id, firstSlot: 0, used: [Array(repeating: d.cpu, count: slots), Array(repeating: d.memory, count: slots), Array(repeating: 0, count: slots)],
                           allocated: [Array(repeating: 4, count: slots), Array(repeating: 4, count: slots), Array(repeating: 0, count: slots)])
        })
        let sla = SLA(maximum: ResourceVector(cpu: 4, memory: 4))
        let pool = try AllocationLedger(
            nodes: [Node(id: "n1", capacity: ResourceVector(cpu: 8, memory: 16)), Node(id: "n2", capacity: ResourceVector(cpu: 8, memory: 16))],
            instances: [Instance(id: "busy", node: "n1", allocation: ResourceVector(cpu: 1, memory: 2), sla: sla),
                        Instance(id: "idle", node: "n1", allocation: ResourceVector(cpu: 1, memory: 1), sla: sla),
                        Instance(id: "hungry", node: "n2", allocation: ResourceVector(cpu: 1, memory: 1), sla: sla)])
        return try SimulatedDriver(trace: trace, pool: pool, stateFile: stateFile)
    }

    init() throws {
        simulated = try Self.pool()
        driver = simulated
        simulated.advance(toSlot: 0, time: 1_700_000_400)
    }

    func tick() async throws {
        let k = slot.next()
        simulated.advance(toSlot: k, time: 1_700_000_400 + Int64(k) * 300)
    }

    func tearDown() async {}
}

@Suite("Simulated driver conformance")
struct SimulatedDriverTests {
    @Test func inventory() async throws { try await DriverConformance(fixture: try SimulatedFixture()).inventoryListsTheInstancesWithTheirLimits() }
    @Test func resize() async throws { try await DriverConformance(fixture: try SimulatedFixture()).aResizeTakesEffectAndReadsBack() }
    @Test func refusals() async throws { try await DriverConformance(fixture: try SimulatedFixture()).whatCannotBeDoneIsRefusedAndChangesNothing() }
    @Test func throttling() async throws { try await DriverConformance(fixture: try SimulatedFixture()).aCPUQuotaThrottlesAndTheThrottlingIsMeasured() }
    @Test func oomKills() async throws { try await DriverConformance(fixture: try SimulatedFixture()).aMemoryLimitReachedIsAnOOMKillCounted() }

    @Test func servedIsTheDemandUpToTheAllocationAndTheRestIsCounted() async throws {
        let fixture = try SimulatedFixture()
        let deltas = try await DriverConformance(fixture: fixture).round(["busy", "hungry"])
        let busy = try #require(deltas["busy"]), hungry = try #require(deltas["hungry"])
        #expect(busy.cpu == 1 && busy.throttled == 1, "2 cores wanted, 1 allowed")
        #expect(busy.memory == 1 && busy.oomKills == 0)
        #expect(hungry.oomKills == 1 && !hungry.healthy, "2 GiB wanted, 1 allowed: killed and restarting")
    }

    @Test func aMigrationMovesTheInstanceAndIsEstimatedFromItsMemory() async throws {
        let fixture = try SimulatedFixture()
        let estimate = try #require(await fixture.driver.migrationEstimate(of: "busy", to: "n2"))
        #expect(estimate.transferred == 2 && estimate.seconds > estimate.downtimeMilliseconds / 1000)
        #expect(await fixture.driver.migrationEstimate(of: "busy", to: "nowhere") == nil)
        try await fixture.driver.migrate("busy", to: "n2")
        #expect(try await fixture.driver.inventory().instances.first { $0.id == "busy" }?.node == "n2")
        await #expect(throws: DriverError.self) { try await fixture.driver.migrate("busy", to: "nowhere") }
    }

    @Test func whatTheHostsWereSetToOutlivesTheProcessThatSetIt() async throws {
        let file = NSTemporaryDirectory() + "poolswap-simulated-\(UUID().uuidString)"
        let first = try SimulatedFixture.pool(stateFile: file)
        try await first.apply(ResourceVector(cpu: 0.5, memory: 1.5), to: "busy")
        try await first.migrate("idle", to: "n2")
        // A line half written when the process was killed is passed over.
        let handle = try #require(FileHandle(forWritingAtPath: file))
        handle.seekToEndOfFile()
        handle.write(Data("hungry\t3".utf8))
        try handle.close()
        let second = try SimulatedFixture.pool(stateFile: file)
        #expect(try await second.allocation(of: "busy") == ResourceVector(cpu: 0.5, memory: 1.5))
        #expect(try await second.inventory().instances.first { $0.id == "idle" }?.node == "n2")
        #expect(try await second.allocation(of: "hungry") == ResourceVector(cpu: 1, memory: 1))
    }
}
