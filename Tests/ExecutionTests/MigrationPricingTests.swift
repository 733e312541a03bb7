import Drivers
import Execution
import PoolCore
import Testing

struct MigrationPricingTests {
    let prices = Prices(waste: [1, 0.125, 8], shortfall: [10, 1.25, 80], change: [0.05, 0.01, 0.5], oomKill: 50)
    let allocation = ResourceVector(cpu: 4, memory: 16), demand = ResourceVector(cpu: 2.7, memory: 11.5)

    func price(_ estimate: MigrationEstimate, weight: Double = 3, slots: Int = 3) -> Double {
        MigrationPricing.cost(estimate, allocation: allocation, demand: demand, weight: weight, prices: prices, fixed: 0.5,
                              slotSeconds: 300, slots: slots)
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

    @Test func theHeldCapacityIsWasteAndThePauseIsWeightedShortfallOverTheHorizon() {
        // 900 s on both nodes: 4 cores × 1 + 16 GiB × 0.125 = 6 per slot, for 3 slots, spread over 3 slots.
        let held = price(MigrationEstimate(seconds: 900, downtimeMilliseconds: 0, transferred: 1))
        #expect(abs(held - (0.5 + 6)) < 1e-9)
        // 300 s paused: 2.7 cores × 10 + 11.5 GiB × 1.25 = 41.375 a slot, × weight 3, for one slot, spread over 3.
        let paused = price(MigrationEstimate(seconds: 0, downtimeMilliseconds: 300_000, transferred: 1))
        #expect(abs(paused - (0.5 + 41.375)) < 1e-9)
        #expect(abs(price(MigrationEstimate(seconds: 0, downtimeMilliseconds: 300_000, transferred: 1), weight: 1) - (0.5 + 41.375 / 3)) < 1e-9)
        #expect(abs(price(MigrationEstimate(seconds: 900, downtimeMilliseconds: 0, transferred: 1), slots: 6) - (0.5 + 3)) < 1e-9)
    }
}
