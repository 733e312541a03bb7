import Drivers
import Foundation
import PoolCore
@testable import Simulation
import Testing

/// A trace of one instance per element of `usage` (cpu cores per slot; memory fixed at 1 GiB
/// used of 2 GiB allocated), each allocated `allocatedCPU` cores.
func syntheticTrace(_ usage: [[Double]], allocatedCPU: Double) -> UsageTrace {
    UsageTrace(origin: 1_700_000_000, interval: 300, instances: usage.enumerated().map { index, cpu in
        InstanceSeries(
            id: InstanceID("vm\(index)"), firstSlot: 0,
            used: [cpu, cpu.map { $0.isNaN ? .nan : 1 }, cpu.map { $0.isNaN ? .nan : 0 }],
            allocated: [cpu.map { $0.isNaN ? .nan : allocatedCPU }, cpu.map { $0.isNaN ? .nan : 2 }, cpu.map { $0.isNaN ? .nan : 0 }])
    })
}

@Suite struct SimulatorTests {
    @Test func accountsSlackAndShortfallInAmountHours() throws {
        // 12 five-minute slots = 1 hour. vm0 uses 1 of 2 cores; vm1 uses 3 of 2.
        let trace = syntheticTrace([Array(repeating: 1, count: 12), Array(repeating: 3, count: 12)], allocatedCPU: 2)
        let simulator = Simulator(trace: trace, pool: try PoolShape().buildPool(for: trace))
        let result = simulator.run(StaticPolicy(trace: trace))
        #expect(abs(result.slackHours.cpu - 1) < 1e-12)
        #expect(abs(result.shortfallHours.cpu - 1) < 1e-12)
        #expect(abs(result.slackHours.memory - 2) < 1e-12)
        #expect(result.shortfallIntervals == 12)
        #expect(result.instanceIntervals == 24)
        #expect(abs(result.slackPercent(.cpu) - 25) < 1e-9)
        #expect(abs(result.shortfallPercent(.cpu) - 25) < 1e-9)
        #expect(result.resizes == 0)
        #expect(simulator.resources == [.cpu, .memory])
    }

    @Test func theOracleHasNeitherSlackNorShortfall() throws {
        let trace = syntheticTrace([[1, 2, 0.5, .nan, 4], [0, 0, 3, 3, 1]], allocatedCPU: 2)
        let simulator = Simulator(trace: trace, pool: try PoolShape().buildPool(for: trace))
        let result = simulator.run(OraclePolicy(trace: trace))
        #expect(result.slackHours.cpu == 0)
        #expect(result.shortfallHours == .zero)
        #expect(result.shortfallIntervals == 0)
        #expect(result.instanceIntervals == 9)
    }

    @Test func gapsAreNeitherAccountedNorResized() throws {
        let trace = syntheticTrace([[1, .nan, .nan, 1]], allocatedCPU: 2)
        let simulator = Simulator(trace: trace, pool: try PoolShape().buildPool(for: trace))
        let result = simulator.run(OraclePolicy(trace: trace))
        #expect(result.instanceIntervals == 2)
        #expect(result.resizes == 1) // to 1 core and 1 GiB at slot 0, nothing after
        #expect(result.tiers.map(\.resizes) == [1, 0, 0], "in the instance's tier")
        #expect(result.usedPerSlot[1] == .zero)
    }

    /// A sample lacking one value (a zero capacity in a real trace): the slot is present, the
    /// missing resource is neither accounted nor resized, the others are.
    @Test func aMissingValueLeavesItsResourceUnaccountedAndTheRestAccounted() throws {
        var trace = syntheticTrace([[1, 1, 1, 1]], allocatedCPU: 2)
        trace.instances[0].used[0][1] = .nan
        trace.instances[0].allocated[1][2] = .nan
        trace.instances[0].used[1][3] = .nan
        let simulator = Simulator(trace: trace, pool: try PoolShape().buildPool(for: trace))
        for result in [simulator.run(StaticPolicy(trace: trace)), simulator.run(PercentilePolicy(trace: trace)), simulator.run(OraclePolicy(trace: trace))] {
            #expect(result.instanceIntervals == 4, "\(result.policy)")
            #expect(result.slackHours.cpu.isFinite && result.slackHours.memory.isFinite && result.shortfallHours.cpu.isFinite, "\(result.policy)")
            #expect(result.usedPerSlot[1].cpu == 0 && result.usedPerSlot[1].memory == 1, "\(result.policy)")
            #expect(result.allocatedPerSlot[1].cpu == 0 && result.allocatedPerSlot[1].memory > 0, "\(result.policy)")
            #expect(result.usedPerSlot[3].cpu == 1 && result.usedPerSlot[3].memory == 0 && result.allocatedPerSlot[3].memory == 0, "\(result.policy)")
        }
        let held = simulator.run(StaticPolicy(trace: trace))
        #expect(held.allocatedPerSlot.map(\.memory) == [2, 2, 2, 0], "a missing allocation keeps the one held; a missing usage is not accounted")
        #expect(abs(held.slackHours.cpu - 3.0 / 12) < 1e-12, "three slots of one spare core")
    }

    /// Usage without any allocation (a CSV without the allocation column): each instance
    /// starts at its peak, and the static policy keeps it.
    @Test func aTraceWithoutAllocationsStartsAtThePeak() throws {
        let cpu: [Double] = [1, 2, 3, 2]
        let trace = UsageTrace(origin: 0, interval: 300, instances: [InstanceSeries(
            id: "a", firstSlot: 0, used: [cpu, cpu.map { _ in 0 }, cpu.map { _ in 0 }], allocated: [cpu.map { _ in .nan }, cpu.map { _ in 0 }, cpu.map { _ in 0 }])])
        let pool = try PoolShape().buildPool(for: trace)
        #expect(pool.instances[0].allocation.cpu == 3)
        let result = Simulator(trace: trace, pool: pool).run(StaticPolicy(trace: trace))
        #expect(result.resizes == 0)
        #expect(abs(result.slackHours.cpu - 4.0 / 12) < 1e-12)
    }

    /// A trace that measures cpu alone (a CSV without memory columns) simulates cpu alone.
    @Test func aCPUOnlyTraceIsSimulatedOnCPU() throws {
        let cpu: [Double] = (0..<600).map { 1 + Double($0 % 12) / 12 }
        let trace = UsageTrace(origin: 0, interval: 60, instances: [InstanceSeries(
            id: "a", firstSlot: 0, used: [cpu, cpu.map { _ in 0 }, cpu.map { _ in 0 }], allocated: [cpu.map { _ in 8 }, cpu.map { _ in 0 }, cpu.map { _ in 0 }])])
        let simulator = Simulator(trace: trace, pool: try PoolShape().buildPool(for: trace))
        #expect(simulator.resources == [.cpu])
        let result = simulator.run(PercentilePolicy(trace: trace))
        #expect(result.resizes > 0)
        #expect(result.slackHours.cpu < simulator.run(StaticPolicy(trace: trace)).slackHours.cpu)
    }

    @Test func nodesDefaultToAShapeTheLargestInstanceFits() throws {
        let trace = syntheticTrace([[1, 2], [3, 100]], allocatedCPU: 2)
        #expect(throws: PoolBuildError.self) { try PoolShape().buildPool(for: trace) }
        let fitted = PoolShape().fitted(to: trace)
        #expect(fitted.nodeCapacity == ResourceVector(cpu: 102, memory: 512))
        let pool = try fitted.buildPool(for: trace)
        #expect(pool.instances.map(\.sla.maximum.cpu) == [2, 100])
        // A shape the user gave is kept, and refused with the instance named.
        #expect { try PoolShape().fitted(to: trace, keeping: [.cpu]).buildPool(for: trace) } throws: { "\($0)".contains("instance vm1") }
    }

    /// Asks for `ask` cores for every instance, whatever they use.
    struct GreedyPolicy: AllocationPolicy {
        let name = "greedy"
        let ask: Double
        func target(instance: Int, slot: Int, current: ResourceVector) -> ResourceVector {
            ResourceVector(cpu: ask, memory: current.memory)
        }
    }

    @Test func growsBeyondANodeAreCappedAndTheLedgerStaysValid() throws {
        let trace = syntheticTrace([[10, 10], [10, 10]], allocatedCPU: 2)
        // Both fit one 24-core node by size (10 each); a policy asking 12 each must be cut to 11 each.
        let shape = PoolShape(nodeCapacity: ResourceVector(cpu: 24, memory: 64), nodeReserve: ResourceVector(cpu: 2, memory: 0))
        var pool = try shape.buildPool(for: trace)
        #expect(pool.nodes.count == 1)
        // Widen the SLA ceilings so only node capacity limits the grow.
        pool = try AllocationLedger(nodes: pool.nodes, instances: pool.instances.map { instance in
            var wide = instance
            wide.sla.maximum.cpu = 20
            return wide
        })
        let result = Simulator(trace: trace, pool: pool).run(GreedyPolicy(ask: 12))
        #expect(result.cappedRequests == 4) // two instances in each of two slots
        #expect(abs(result.allocatedPerSlot[0].cpu - 22) < 1e-9)
        #expect(abs(result.allocatedPerSlot[1].cpu - 22) < 1e-9)
    }

    @Test func thePercentilePolicyNeverReadsTheFuture() throws {
        var random = SystemRandomNumberGenerator()
        let usage = (0..<3).map { _ in (0..<600).map { _ in Double.random(in: 0...4, using: &random) } }
        let trace = syntheticTrace(usage, allocatedCPU: 4)
        // The same trace with everything from slot 400 on replaced.
        var altered = usage
        for index in altered.indices { for slot in 400..<600 { altered[index][slot] = Double.random(in: 0...4, using: &random) } }
        var alteredTrace = syntheticTrace(altered, allocatedCPU: 4)
        // Keep the pool identical: same peaks.
        for index in alteredTrace.instances.indices { alteredTrace.instances[index].used[0][599] = trace.instances[index].peak.cpu }
        let pool = try PoolShape().buildPool(for: trace)
        let a = Simulator(trace: trace, pool: pool).run(PercentilePolicy(trace: trace))
        let b = Simulator(trace: alteredTrace, pool: pool).run(PercentilePolicy(trace: alteredTrace))
        #expect(Array(a.allocatedPerSlot.prefix(401)) == Array(b.allocatedPerSlot.prefix(401)))
        #expect(a.resizes > 0)
    }

    @Test func onTheBundledSampleTheOracleBeatsPercentileBeatsStatic() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let (trace, _) = try BitbrainsTraceReader().read(folder: root + "/Data/bitbrains-sample")
        let simulator = Simulator(trace: trace, pool: try PoolShape().buildPool(for: trace))
        let oracle = simulator.run(OraclePolicy(trace: trace))
        let percentile = simulator.run(PercentilePolicy(trace: trace))
        let fixed = simulator.run(StaticPolicy(trace: trace))
        for resource in [Resource.cpu, .memory] {
            #expect(oracle.slackHours[resource] < percentile.slackHours[resource])
            #expect(percentile.slackHours[resource] < fixed.slackHours[resource])
        }
        #expect(oracle.shortfallHours == .zero)
        #expect(oracle.instanceIntervals == fixed.instanceIntervals)
        // The chart has one line per policy in each of 3 panels per resource.
        let svg = SimulationChart(results: [fixed, percentile, oracle], origin: trace.origin).svg()
        #expect(svg.components(separatedBy: "<path ").count - 1 == 3 * 3 * 2)
        #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n"))
    }

    @Test func aWindowAccountsOnlyItsSlotsAfterThePolicySawTheHistoryBeforeIt() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let (trace, _) = try BitbrainsTraceReader().read(folder: root + "/Data/bitbrains-sample")
        let simulator = Simulator(trace: trace, pool: try PoolShape().buildPool(for: trace))
        let whole = simulator.run(PercentilePolicy(trace: trace))
        let first = simulator.slots(window: nil).first
        let window = (first + 2_000)..<(first + 3_000)
        let part = simulator.run(PercentilePolicy(trace: trace), window: window)
        #expect(part.firstSlot == window.lowerBound)
        #expect(part.slackPerSlot.count == window.count)
        // The same decisions in the window as in the whole run: the history before it was seen.
        let offset = window.lowerBound - whole.firstSlot
        #expect(part.slackPerSlot == Array(whole.slackPerSlot[offset..<(offset + window.count)]))
        #expect(part.allocatedPerSlot == Array(whole.allocatedPerSlot[offset..<(offset + window.count)]))
        #expect(part.instanceIntervals < whole.instanceIntervals && part.instanceIntervals > 0)
        // The tiers add up to the whole, and every tier has instances.
        #expect(part.tiers.map(\.instanceIntervals).reduce(0, +) == part.instanceIntervals)
        #expect(part.tiers.map(\.shortfallIntervals).reduce(0, +) == part.shortfallIntervals)
        #expect(part.tiers.allSatisfy { $0.instanceIntervals > 0 })
        let tierSlack = part.tiers.reduce(0.0) { $0 + $1.slackHours.cpu }
        #expect(abs(tierSlack - part.slackHours.cpu) <= 1e-9 * max(1, part.slackHours.cpu))
        // The replay's rule: throttled core-hours are the cpu shortfall, a kill per memory-short interval.
        #expect(abs(part.throttledCoreHours - part.shortfallHours.cpu) <= 1e-9 * max(1, part.shortfallHours.cpu))
        #expect(!part.measuredByDriver)
    }
}

@Suite struct DecayingHistogramTests {
    @Test func percentilesOfEqualWeightsAreTheBucketsHoldingThem() {
        var histogram = DecayingHistogram(firstBucketSize: 0.01, maxValue: 1_000)
        for value in 1...100 { histogram.add(Double(value), at: 0) }
        let p = histogram.percentiles([0.5, 0.9] as InlineArray<2, Double>)
        // The answer is the upper end of the bucket holding the value: within one bucket (5%) above.
        #expect(p[0] >= 50 && p[0] <= 50 * 1.06)
        #expect(p[1] >= 90 && p[1] <= 90 * 1.06)
    }

    @Test func olderSamplesWeighLessByTheHalfLife() {
        var histogram = DecayingHistogram(firstBucketSize: 0.01, maxValue: 1_000, halfLife: 3_600)
        // 10 samples of 1 a day ago weigh 10 * 2^-24; one sample of 8 now dominates.
        for _ in 0..<10 { histogram.add(1, at: 0) }
        histogram.add(8, at: 86_400)
        let p = histogram.percentiles([0.5] as InlineArray<1, Double>)
        #expect(p[0] >= 8 && p[0] < 8.5)
    }

    @Test func weightsStayFiniteOverMonths() {
        var histogram = DecayingHistogram(firstBucketSize: 0.01, maxValue: 1_000, halfLife: 3_600)
        for hour in 0..<(24 * 90) { histogram.add(Double(hour % 7), at: Double(hour) * 3_600) }
        let p = histogram.percentiles([0.5] as InlineArray<1, Double>)
        #expect(p[0].isFinite && p[0] > 0)
    }
}

@Suite struct AdmissionTests {
    @Test func aSpareGPUGoesWholeToOneOfTwoAskers() throws {
        let pool = try AllocationLedger(
            nodes: [Node(id: "n1", capacity: ResourceVector(cpu: 8, memory: 8, gpu: 3))],
            instances: ["a", "b"].map { Instance(id: InstanceID($0), node: "n1", allocation: ResourceVector(cpu: 1, memory: 1, gpu: 1), sla: SLA(maximum: ResourceVector(cpu: 8, memory: 8, gpu: 2))) })
        var targets = [ResourceVector(cpu: 1, memory: 1, gpu: 2), ResourceVector(cpu: 1, memory: 1, gpu: 2)]
        let capped = Simulator(trace: UsageTrace(origin: 0, interval: 300, instances: pool.instances.map {
            InstanceSeries(id: $0.id, firstSlot: 0, used: [[1], [1], [1]], allocated: [[1], [1], [1]])
        }), pool: pool).admit(&targets, in: pool)
        #expect(capped == 2)
        #expect(targets.map(\.gpu).sorted() == [1, 2])
    }

    @Test func fractionalGPUUsageGetsWholeDevicesWithoutBreakingTheLedger() throws {
        let trace = UsageTrace(origin: 0, interval: 300, instances: [
            InstanceSeries(id: "g", firstSlot: 0, used: [[1, 1], [1, 1], [0.5, 1.5]], allocated: [[2, 2], [2, 2], [0, 1]]),
        ])
        let shape = PoolShape(nodeCapacity: ResourceVector(cpu: 8, memory: 8, gpu: 4), nodeReserve: .zero)
        let pool = try shape.buildPool(for: trace)
        #expect(pool.instances[0].sla.maximum.gpu == 2)
        let result = Simulator(trace: trace, pool: pool).run(OraclePolicy(trace: trace))
        #expect(result.allocatedPerSlot.map(\.gpu) == [1, 2])
        #expect(result.shortfallHours.gpu == 0)
    }
}

@Suite struct HistogramSubtractTests {
    @Test func subtractingASampleUndoesItsAdd() {
        var histogram = DecayingHistogram(firstBucketSize: 0.01, maxValue: 1_000, halfLife: 3_600)
        histogram.add(1, at: 0)
        histogram.add(50, at: 100)
        histogram.subtract(50, at: 100)
        histogram.add(2, at: 100)
        let p = histogram.percentiles([1.0] as InlineArray<1, Double>)
        #expect(p[0] >= 2 && p[0] < 2.2)
    }
}

@Suite struct TierRuleTests {
    @Test func cycleGivesTheTiersInTurn() throws {
        let trace = syntheticTrace(Array(repeating: [1, 1], count: 7), allocatedCPU: 2)
        let pool = try PoolShape().buildPool(for: trace)
        #expect(pool.instances.map(\.sla.weight) == [1, 3, 10, 1, 3, 10, 1])
    }

    @Test func aSeededRuleDrawsTheSameTiersForTheSameSeedInItsShares() throws {
        let rule = TierRule.random(seed: 42, shares: [0.6, 0.3, 0.1])
        let tiers = rule.tiers(count: 3_000)
        #expect(tiers == rule.tiers(count: 3_000), "the same seed, the same tiers")
        #expect(tiers != TierRule.random(seed: 43, shares: [0.6, 0.3, 0.1]).tiers(count: 3_000), "another seed, others")
        let counts = SLATier.allCases.map { tier in tiers.filter { $0 == tier }.count }
        // Binomial(3000, p): each count within 5 standard deviations of 3000 p.
        for (count, share) in zip(counts, [0.6, 0.3, 0.1]) {
            let sd = (3_000 * share * (1 - share)).squareRoot()
            #expect(abs(Double(count) - 3_000 * share) < 5 * sd, "\(counts)")
        }
        #expect(TierRule.random(seed: 1, shares: [0, 0, 2]).tiers(count: 50).allSatisfy { $0 == .critical })
        // The pool takes the weights from the rule.
        let trace = syntheticTrace(Array(repeating: [1, 1], count: 40), allocatedCPU: 2)
        let pool = try PoolShape(tiers: .random(seed: 9, shares: [1, 1, 1])).buildPool(for: trace)
        let expected = TierRule.random(seed: 9, shares: [1, 1, 1]).tiers(count: 40).map { PoolShape.tierWeights[$0.rawValue] }
        #expect(pool.instances.map(\.sla.weight) == expected)
    }

    @Test func rulesAreReadAsSimulateWritesThem() throws {
        #expect(try TierRule(parsing: "cycle") == .cycle)
        #expect(try TierRule(parsing: "random:7") == .random(seed: 7, shares: [1, 1, 1]))
        #expect(try TierRule(parsing: "random:7:5,3,2") == .random(seed: 7, shares: [5, 3, 2]))
        for bad in ["cycles", "random", "random:-1", "random:x", "random:1:1,2", "random:1:a,b,c", "random:1:0,0,0", "random:1:1,2,3:4"] {
            #expect(throws: PoolBuildError.self, "\(bad)") { try TierRule(parsing: bad) }
        }
    }

    @Test func sharesThatCannotDrawAreRefused() {
        #expect(TierRule.random(seed: 1, shares: [0, 0, 0]).problem != nil)
        #expect(TierRule.random(seed: 1, shares: [1, -1, 1]).problem != nil)
        #expect(TierRule.random(seed: 1, shares: [1, 1]).problem != nil)
        let trace = syntheticTrace([[1, 1]], allocatedCPU: 2)
        #expect(throws: PoolBuildError.self) { try PoolShape(tiers: .random(seed: 1, shares: [0, 0, 0])).buildPool(for: trace) }
    }
}
