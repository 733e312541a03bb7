import Drivers
import Execution
import PoolCore
import Testing

struct MigrationPricingTests {
    let waste = [1, 0.125, 8.0], shortfall = [10, 1.25, 80.0]
    let allocation = ResourceVector(cpu: 4, memory: 16), demand = ResourceVector(cpu: 2.7, memory: 11.5)

    func price(_ estimate: MigrationEstimate, weight: Double = 3) -> Double {
        MigrationPricing.cost(estimate, allocation: allocation, demand: demand, weight: weight, waste: waste, shortfall: shortfall, fixed: 0.5,
                              slotSeconds: 300)
    }

    @Test func anInstantMoveCostsTheFixedPrice() {
        #expect(price(MigrationEstimate(seconds: 0, downtimeMilliseconds: 0, transferred: 0)) == 0.5)
    }

    @Test func aMoveCostsMoreTheLongerItTakesAndTheLongerItPauses() {
        let base = price(MigrationEstimate(seconds: 10, downtimeMilliseconds: 100, transferred: 1))
        #expect(price(MigrationEstimate(seconds: 20, downtimeMilliseconds: 100, transferred: 1)) > base)
        #expect(price(MigrationEstimate(seconds: 10, downtimeMilliseconds: 2_000, transferred: 1)) > base)
        #expect(base > 0.5)
    }

    @Test func theHeldCapacityIsWasteAndThePauseIsWeightedCPUShortfall() {
        // A slot on both nodes: 4 cores × 1 + 16 GiB × 0.125 = 6.
        let held = price(MigrationEstimate(seconds: 300, downtimeMilliseconds: 0, transferred: 1))
        #expect(abs(held - (0.5 + 6)) < 1e-9)
        // A slot paused: 2.7 cores × 10, × weight 3; the memory it keeps is not short.
        let paused = price(MigrationEstimate(seconds: 0, downtimeMilliseconds: 300_000, transferred: 1))
        #expect(abs(paused - (0.5 + 81)) < 1e-9)
        #expect(abs(price(MigrationEstimate(seconds: 0, downtimeMilliseconds: 300_000, transferred: 1), weight: 1) - (0.5 + 27)) < 1e-9)
    }
}
