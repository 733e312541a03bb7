import Drivers
import PoolCore
import Testing

/// Three instances a driver runs for the suite: `busy` wants more than a core and holds some
/// memory, `idle` does almost nothing, `hungry` keeps asking for more memory than its limit
/// (set by the fixture below what it asks for).
protocol DriverFixture: Sendable {
    var driver: any InstanceDriver { get }
    var busy: InstanceID { get }
    var idle: InstanceID { get }
    var hungry: InstanceID { get }
    /// Lets a round pass: the simulated pool runs a slot, real instances run a while.
    func tick() async throws
    func tearDown() async
}

/// What every `InstanceDriver` must do; each driver's suite runs all of it against instances
/// it really runs.
struct DriverConformance {
    let fixture: any DriverFixture
    var driver: any InstanceDriver { fixture.driver }

    /// Runs `body` on `fixture` and tears the fixture down, whether `body` passes or throws.
    static func run(on fixture: any DriverFixture, _ body: (DriverConformance) async throws -> Void) async throws {
        do {
            try await body(DriverConformance(fixture: fixture))
        } catch {
            await fixture.tearDown()
            throw error
        }
        await fixture.tearDown()
    }

    /// One round's deltas of `ids`, read around a tick.
    func round(_ ids: [InstanceID]) async throws -> [InstanceID: SignalDelta] {
        let before = try await driver.signals(of: ids)
        try await fixture.tick()
        let after = try await driver.signals(of: ids)
        var out: [InstanceID: SignalDelta] = [:]
        for id in ids {
            if let a = before[id], let b = after[id], let delta = SignalDelta(from: a, to: b) { out[id] = delta }
        }
        return out
    }

    func inventoryListsTheInstancesWithTheirLimits() async throws {
        let inventory = try await driver.inventory()
        let ids = Set(inventory.instances.map(\.id))
        for id in [fixture.busy, fixture.idle, fixture.hungry] {
            #expect(ids.contains(id), "\(driver.name) lists \(id): \(ids.sorted())")
            let found = try #require(inventory.instances.first { $0.id == id })
            #expect(inventory.nodes.contains { $0.id == found.node }, "\(id) is on a node the driver lists")
            #expect(try await driver.allocation(of: id) == found.allocation)
        }
        #expect(inventory.nodes.allSatisfy { $0.capacity.cpu > 0 && $0.capacity.memory > 0 })
    }

    func aResizeTakesEffectAndReadsBack() async throws {
        let start = try await driver.allocation(of: fixture.idle)
        var next = start
        next.cpu = 0.37
        next.memory = 0.25
        try await driver.apply(next, to: fixture.idle)
        let read = try await driver.allocation(of: fixture.idle)
        #expect(abs(read.cpu - 0.37) <= 1e-5, "cpu \(read.cpu)")
        #expect(abs(read.memory - 0.25) <= 4_096.0 / 1_073_741_824, "memory \(read.memory)")
        next.cpu = 0.5
        next.memory = 0.5
        try await driver.apply(next, to: fixture.idle)
        #expect(abs(try await driver.allocation(of: fixture.idle).cpu - 0.5) <= 1e-5, "grown again")
    }

    func whatCannotBeDoneIsRefusedAndChangesNothing() async throws {
        await #expect(throws: DriverError.unknownInstance("no-such-instance")) {
            try await driver.apply(ResourceVector(cpu: 1, memory: 1), to: "no-such-instance")
        }
        await #expect(throws: DriverError.unknownInstance("no-such-instance")) { _ = try await driver.allocation(of: "no-such-instance") }
        #expect(try await driver.signals(of: ["no-such-instance"]).isEmpty)
        // Memory below the working set: refused, the limits in effect stay.
        _ = try await round([fixture.busy])
        let before = try await driver.allocation(of: fixture.busy)
        let workingSet = try #require(try await driver.signals(of: [fixture.busy])[fixture.busy]).workingSet
        #expect(workingSet > 0.001, "busy holds memory: \(workingSet) GiB")
        await #expect {
            try await driver.apply(ResourceVector(cpu: before.cpu / 2, memory: workingSet / 4, gpu: before.gpu), to: fixture.busy)
        } throws: { error in
            guard case .refused(let id, let why) = error as? DriverError else { return false }
            return id == fixture.busy && why.contains("working set")
        }
        #expect(try await driver.allocation(of: fixture.busy) == before, "a refused change leaves cpu and memory as they were")
        if !driver.capabilities.resizes.contains(.gpu) {
            await #expect(throws: DriverError.self) { try await driver.apply(ResourceVector(cpu: before.cpu, memory: before.memory, gpu: 1), to: fixture.busy) }
            #expect(try await driver.allocation(of: fixture.busy) == before)
        }
        if !driver.capabilities.migrates {
            #expect(await driver.migrationEstimate(of: fixture.idle, to: "elsewhere") == nil)
            #expect(await driver.migrationEstimates(of: fixture.idle, to: ["elsewhere"]) == [nil])
            await #expect(throws: DriverError.self) { try await driver.migrate(fixture.idle, to: "elsewhere") }
        }
    }

    func aCPUQuotaThrottlesAndTheThrottlingIsMeasured() async throws {
        #expect(driver.capabilities.throttling)
        // A twentieth of a core: used up early in every period, however busy the machine is.
        var limited = try await driver.allocation(of: fixture.busy)
        limited.cpu = 0.05
        try await driver.apply(limited, to: fixture.busy)
        let deltas = try await round([fixture.busy, fixture.idle])
        let busy = try #require(deltas[fixture.busy]), idle = try #require(deltas[fixture.idle])
        #expect(busy.cpu <= 0.05 * 1.25 + 0.01, "busy is held to its quota: \(busy.cpu) cores")
        #expect(busy.cpu >= 0.01, "and uses it: \(busy.cpu) cores")
        #expect(busy.throttled >= 0.3, "the demand above the quota is counted: \(busy.throttled) cores throttled")
        #expect(idle.throttled < 0.05 && idle.cpu < 0.1, "idle is neither busy nor throttled: \(idle.cpu), \(idle.throttled)")
        #expect(busy.healthy && idle.healthy)
        // Given room, busy uses more and throttling stops.
        limited.cpu = 1.5
        try await driver.apply(limited, to: fixture.busy)
        _ = try await round([fixture.busy])
        // On a loaded machine a round may catch the process not yet rescheduled under the new
        // quota (a runc container once read 0 cores for one round): a few rounds at most.
        var freed = try #require(try await round([fixture.busy])[fixture.busy])
        for _ in 0..<4 where freed.cpu <= busy.cpu {
            freed = try #require(try await round([fixture.busy])[fixture.busy])
        }
        #expect(freed.cpu > busy.cpu, "busy runs on more once allowed: \(freed.cpu) cores from \(busy.cpu)")
        #expect(freed.throttled < busy.throttled / 2, "and throttling falls: \(freed.throttled) from \(busy.throttled)")
    }

    func aMemoryLimitReachedIsAnOOMKillCounted() async throws {
        var oomKills = 0
        var failures = 0
        var rounds = 0
        // The kernel needs a moment to kill; a few rounds at most.
        while oomKills == 0, rounds < 5 {
            let delta = try #require(try await round([fixture.hungry])[fixture.hungry])
            oomKills += delta.oomKills
            failures += delta.memoryFailures
            rounds += 1
        }
        #expect(oomKills >= 1, "hungry asks for more than its limit: \(oomKills) OOM kills in \(rounds) rounds")
        #expect(failures >= 1, "and hits the limit: \(failures) failures")
        let limit = try await driver.allocation(of: fixture.hungry).memory
        let workingSet = try #require(try await driver.signals(of: [fixture.hungry])[fixture.hungry]).workingSet
        #expect(workingSet <= limit + 1e-9, "never more than the limit is charged: \(workingSet) of \(limit) GiB")
    }
}
