import Drivers
@testable import Execution
import PoolCore
import Testing

let levels = [0.025, 0.05, 0.1, 0.5, 0.9, 0.95, 0.975]

/// One slot whose quantiles are `values` at `levels`.
func forecast(_ values: [Double], slots: Int = 1) -> ForecastQuantiles {
    ForecastQuantiles(levels: levels, slots: Array(repeating: values, count: slots))
}

func change(_ before: ResourceVector, _ after: ResourceVector, to node: NodeID = "n1", id: InstanceID = "a", tenant: String = "t") -> SwapChange {
    SwapChange(instance: id, tenant: tenant, fromNode: "n1", toNode: node, before: before, after: after)
}

@Suite struct ExceedanceTests {
    let q = [1.0, 1.2, 1.4, 2.0, 2.6, 2.8, 3.0]

    @Test func atEachQuantileTheChanceAboveItIsOneMinusItsLevel() {
        for (value, level) in zip(q, levels) {
            #expect(abs(ForecastQuantiles.exceedance(value, levels: levels, quantiles: q) - (1 - level)) < 1e-12, "at \(value)")
        }
        // Halfway between the 0.9 and 0.95 quantiles: 7.5%.
        #expect(abs(ForecastQuantiles.exceedance(2.7, levels: levels, quantiles: q) - 0.075) < 1e-12)
    }

    @Test func theTailsFallOffSmoothlyAndTheChanceNeverRises() {
        var last = 1.0
        var amount = 0.0
        var compared = 0
        while amount <= 6 {
            let p = ForecastQuantiles.exceedance(amount, levels: levels, quantiles: q)
            #expect(p <= last + 1e-12 && p >= 0 && p <= 1, "at \(amount): \(p) after \(last)")
            last = p
            amount += 0.01
            compared += 1
        }
        #expect(compared > 500)
        // Beyond the top quantile: the upper tail halves every (3.0 - 2.8) = 0.2 units, as from 5% to 2.5%.
        #expect(abs(ForecastQuantiles.exceedance(3.2, levels: levels, quantiles: q) - 0.0125) < 1e-9)
        #expect(ForecastQuantiles.exceedance(0.5, levels: levels, quantiles: q) > 0.975)
    }

    @Test func aPointForecastHasNoTailAndQuantilesOutOfOrderAreSorted() {
        let flat = [2.0, 2, 2, 2, 2, 2, 2]
        #expect(ForecastQuantiles.exceedance(2.0001, levels: levels, quantiles: flat) == 0)
        #expect(ForecastQuantiles.exceedance(1.9, levels: levels, quantiles: flat) == 1)
        #expect(ForecastQuantiles.exceedance(2.7, levels: levels, quantiles: q.reversed()) == ForecastQuantiles.exceedance(2.7, levels: levels, quantiles: q))
    }

    @Test func overAHorizonTheWorstSlotCounts() {
        let horizon = ForecastQuantiles(levels: levels, slots: [q, q.map { $0 + 1 }, q])
        #expect(horizon.exceedance(3.0) == ForecastQuantiles.exceedance(3.0, levels: levels, quantiles: q.map { $0 + 1 }))
        #expect(!ForecastQuantiles(levels: levels, slots: [q.map { _ in .nan }]).isUsable)
        #expect(!ForecastQuantiles(levels: levels, slots: []).isUsable)
    }
}

@Suite struct RiskAssessmentTests {
    let policy = RiskPolicy()
    let cpu = forecast([1.0, 1.2, 1.4, 2.0, 2.6, 2.8, 3.0])
    let memory = forecast([3.0, 3.1, 3.2, 3.5, 3.8, 3.9, 4.0])

    func input(_ change: SwapChange, forecasts: [Resource: ForecastQuantiles]? = nil, workingSet: Double? = 3.6,
               migration: MigrationEstimate? = nil, benefit: Double = 1) -> RiskInput {
        RiskInput(change: change, benefit: benefit, forecasts: forecasts ?? [.cpu: cpu, .memory: memory], workingSet: workingSet, gpuInUse: 0, migration: migration)
    }

    @Test func aShrinkWellAboveTheForecastIsApprovedWithItsChances() {
        let report = RiskAssessment.assess(input(change(ResourceVector(cpu: 8, memory: 8), ResourceVector(cpu: 4, memory: 6))), policy: policy)
        #expect(report.decision == .approve, "\(report.reasons)")
        #expect(report.reasons.isEmpty)
        let cpuChance = report.after("cpu") ?? 1
        #expect(cpuChance < 0.01 && cpuChance > 0, "4 cores is well above a 97.5% quantile of 3: \(cpuChance)")
        #expect(report.memoryFloor.map { abs($0 - (3.6 * 1.1 + 0.0625)) < 1e-12 } == true)
        #expect(report.horizonSlots == 1)
    }

    @Test func theChanceOfExceedingTheNewAllocationHoldsOrRejects() {
        // 2.7 cores: 7.5% chance above it (hold); 2.2 cores: about 43% (reject).
        let held = RiskAssessment.assess(input(change(ResourceVector(cpu: 4, memory: 6), ResourceVector(cpu: 2.7, memory: 6))), policy: policy)
        #expect(held.decision == .hold, "\(held.reasons)")
        #expect(held.reasons.contains { $0.contains("7.5% chance of cpu usage above 2.7 cores") && $0.contains("the 5% its SLA tier accepts") })
        // An 80% tier accepts 10%: the same shrink runs on its own.
        var lowTier = input(change(ResourceVector(cpu: 4, memory: 6), ResourceVector(cpu: 2.7, memory: 6)))
        lowTier.allowed = 0.10
        #expect(RiskAssessment.assess(lowTier, policy: policy).decision == .approve)
        let rejected = RiskAssessment.assess(input(change(ResourceVector(cpu: 4, memory: 6), ResourceVector(cpu: 2.2, memory: 6))), policy: policy)
        #expect(rejected.decision == .reject)
        #expect((rejected.after("cpu") ?? 0) > 0.25)
    }

    @Test func withoutAForecastNothingShrinksButAGrowStillRuns() {
        let shrink = RiskAssessment.assess(input(change(ResourceVector(cpu: 4, memory: 6), ResourceVector(cpu: 3.5, memory: 6)), forecasts: [:]), policy: policy)
        #expect(shrink.decision == .reject)
        #expect(shrink.reasons.contains { $0.contains("no usable cpu forecast") })
        let broken = RiskAssessment.assess(input(change(ResourceVector(cpu: 4, memory: 6), ResourceVector(cpu: 3.5, memory: 6)),
                                                 forecasts: [.cpu: forecast([.nan, 1, 1, 1, 1, 1, 1]), .memory: memory]), policy: policy)
        #expect(broken.decision == .reject, "a forecast with a NaN is no forecast")
        let grow = RiskAssessment.assess(input(change(ResourceVector(cpu: 4, memory: 6), ResourceVector(cpu: 5, memory: 7)), forecasts: [:], workingSet: nil), policy: policy)
        #expect(grow.decision == .approve)
    }

    @Test func memoryNeverGoesBelowTheWorkingSetAndItsMargin() {
        // Forecast fine at 4.1 GiB, but the observed working set was 3.9 GiB: the floor is 4.3525.
        let below = RiskAssessment.assess(input(change(ResourceVector(cpu: 4, memory: 8), ResourceVector(cpu: 4, memory: 4.1)), workingSet: 3.9), policy: policy)
        #expect(below.decision == .reject)
        #expect(below.reasons.contains { $0.contains("below the floor") })
        let blind = RiskAssessment.assess(input(change(ResourceVector(cpu: 4, memory: 8), ResourceVector(cpu: 4, memory: 6)), workingSet: nil), policy: policy)
        #expect(blind.decision == .reject)
        #expect(blind.reasons.contains { $0.contains("no working set") })
    }

    @Test func aRefusedShrinkIsLeftOutAndTheRestOfTheSwapRuns() throws {
        // cpu grows; memory would go below the floor of 3.9 × 1.1 + 1/16 GiB.
        let report = RiskAssessment.assess(input(change(ResourceVector(cpu: 2, memory: 8), ResourceVector(cpu: 3, memory: 4.1)), workingSet: 3.9), policy: policy)
        #expect(report.decision == .approve)
        #expect(report.approvedAfter == ResourceVector(cpu: 3, memory: 8), "the grow runs, memory stays")
        #expect(report.reasons.first?.hasPrefix("memory kept at 8 GiB: memory 4.1 GiB is below the floor") == true, "\(report.reasons)")
        var lifecycle = SwapLifecycle(change: change(ResourceVector(cpu: 2, memory: 8), ResourceVector(cpu: 3, memory: 4.1)))
        try lifecycle.assessed(report)
        #expect(try lifecycle.start() == [.resize("a", from: ResourceVector(cpu: 2, memory: 8), to: ResourceVector(cpu: 3, memory: 8))])
        // A migration a gate refuses holds the whole swap, whatever else it does.
        let moving = change(ResourceVector(cpu: 2, memory: 8), ResourceVector(cpu: 3, memory: 4.1), to: "n2")
        let held = RiskAssessment.assess(input(moving, workingSet: 3.9, migration: MigrationEstimate(seconds: 1, downtimeMilliseconds: 900, transferred: 8)), policy: policy)
        #expect(held.decision == .reject && held.approvedAfter == nil, "the floor rejects, the downtime holds: the worst decides")
    }

    @Test func aMigrationNeedsTheDriversEstimateWithinTheLimits() {
        let moving = change(ResourceVector(cpu: 4, memory: 6), ResourceVector(cpu: 4, memory: 6), to: "n2")
        #expect(RiskAssessment.assess(input(moving), policy: policy).decision == .reject, "no estimate: fail closed")
        let quick = MigrationEstimate(seconds: 2, downtimeMilliseconds: 30, transferred: 6)
        #expect(RiskAssessment.assess(input(moving, migration: quick), policy: policy).decision == .approve)
        let slow = MigrationEstimate(seconds: 2, downtimeMilliseconds: 900, transferred: 6)
        let held = RiskAssessment.assess(input(moving, migration: slow), policy: policy)
        #expect(held.decision == .hold && held.migration == slow)
    }

    @Test func thePlansBlastRadiusHoldsTheSwapsOfLeastBenefitBeyondIt() {
        var small = policy
        small.maxInstances = 2
        let inputs = (0..<4).map { k in
            input(change(ResourceVector(cpu: 4, memory: 6), ResourceVector(cpu: 5, memory: 6), id: InstanceID("i\(k)"), tenant: "t\(k % 2)"), benefit: Double(k))
        }
        let reports = RiskAssessment.assess(plan: inputs, policy: small)
        #expect(reports.map(\.decision) == [.hold, .hold, .approve, .approve], "the two of most benefit run")
        #expect(reports.allSatisfy { $0.blastRadius == RiskReport.BlastRadius(instances: 2, tenants: 2, nodes: 1) })
        #expect(reports[0].reasons.first?.contains("blast radius") == true)
    }

    @Test func thePolicyChecksItsOwnNumbers() {
        var bad = RiskPolicy()
        bad.holdBelow = 1.2
        #expect(bad.problem?.contains("holdBelow") == true)
        #expect(RiskPolicy().problem == nil)
        #expect(VerificationThresholds().problem == nil)
    }
}
