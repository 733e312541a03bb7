import Drivers
import Foundation
import PoolCore
import Service
import Simulation
import Testing

/// The `predictive` policy of `poolswap simulate`: the service's loop over a trace through the
/// reactive simulated driver, accounted like the replayed policies.
@Suite("Predictive policy through the service")
struct PredictiveRunTests {
    @Test func theLoopCutsSlackOnTheWindowAndTheDriverCountsWhatItThrottled() async throws {
        let trace = SimulatedHarness.trace(slots: 400)
        let pool = try PoolShape(nodeCapacity: ResourceVector(cpu: 16, memory: 64), nodeReserve: .zero).buildPool(for: trace)
        var settings = ServiceConfiguration()
        settings.demo = false
        settings.retrainHours = 0
        settings.trainingSamples = 2_000
        settings.trainingEpochs = 1
        settings.risk.workingSetRounds = 24
        let window = 300..<400
        var rounds = 0
        var run = PredictiveRun(trace: trace, pool: pool, window: window, settings: settings)
        run.burnInSlots = 24  // the loop starts 24 rounds before the window
        run.progress = { done, total in
            rounds = done
            #expect(total == window.count + 24)
        }
        let predictive = try await run.run().result
        let fixed = Simulator(trace: trace, pool: pool).run(StaticPolicy(trace: trace), window: window)
        #expect(rounds == window.count + 24)
        #expect(predictive.networks?.hasPrefix("trained") == true, "\(predictive.networks ?? "nil")")
        #expect(predictive.measuredByDriver)
        #expect(predictive.instanceIntervals == fixed.instanceIntervals)
        #expect(predictive.slackPerSlot.count == window.count)
        #expect(predictive.tiers.map(\.resizes).reduce(0, +) == predictive.resizes, "every resize is in its tier")
        // The loop moved allocations (in its rounds before the window, on this steady trace).
        #expect(predictive.allocatedHours.cpu < fixed.allocatedHours.cpu)
        #expect(predictive.slackHours.cpu < fixed.slackHours.cpu,
                "cpu slack \(predictive.slackHours.cpu) core-h against static's \(fixed.slackHours.cpu)")
        // What the driver throttled is the cpu demand above the allocations accounted.
        #expect(abs(predictive.throttledCoreHours - predictive.shortfallHours.cpu) <= 1e-6 * max(1, predictive.shortfallHours.cpu),
                "driver \(predictive.throttledCoreHours), accounted \(predictive.shortfallHours.cpu)")
        #expect(predictive.tiers.map(\.instanceIntervals).reduce(0, +) == predictive.instanceIntervals)
        #expect(predictive.tiers.map(\.oomKills).reduce(0, +) == predictive.oomKills)
        let tierThrottled = predictive.tiers.map(\.throttledCoreHours).reduce(0, +)
        #expect(abs(tierThrottled - predictive.throttledCoreHours) <= 1e-9 * max(1, predictive.throttledCoreHours))
    }
}
