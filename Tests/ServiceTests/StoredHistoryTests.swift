@testable import Service
import Storage
import Testing

@Suite struct StoredHistoryTests {
    func swap(atSlot slot: Int64, cpu: (Double, Double), outcome: SwapRecord.Outcome = .committed, endedAtSlot: Int64? = nil) -> SwapRecord {
        SwapRecord(plan: "p", instance: "a", tenant: "t", time: slot * 300, fromNode: "n", toNode: "n",
                   before: [cpu.0, 8, 0], after: [cpu.1, 8, 0], predictedBenefit: 0, utilisationBefore: 0,
                   durationMilliseconds: 0, outcome: outcome, endedAt: endedAtSlot.map { $0 * 300 })
    }

    @Test func eachSlotGetsTheAllocationItHadBetweenSwapsAndRollbacks() {
        let start: Int64 = 1_000
        // 4 → 3 at +10; 3 → 9 at +13, rolled back to 3 at +15; rejected and held ones never applied; 3 → 2 at +20.
        let swaps = [swap(atSlot: start + 20, cpu: (3, 2)), swap(atSlot: start + 13, cpu: (3, 9), outcome: .rolledBack, endedAtSlot: start + 15),
                     swap(atSlot: start + 12, cpu: (3, 7), outcome: .rejected), swap(atSlot: start + 12, cpu: (3, 6), outcome: .held),
                     swap(atSlot: start + 10, cpu: (4, 3))]
        let history = StoredHistory.allocations(now: 2, resource: 0, swaps: swaps, startSlot: start, slots: 30, interval: 300)
        #expect(history == Array(repeating: 4, count: 10) + Array(repeating: 3, count: 3) + Array(repeating: 9, count: 2)
                + Array(repeating: 3, count: 5) + Array(repeating: 2, count: 10))
        // Memory never changed.
        #expect(StoredHistory.allocations(now: 8, resource: 1, swaps: swaps, startSlot: start, slots: 30, interval: 300)
            == Array(repeating: 8, count: 30))
    }

    @Test func swapsOutsideTheWindowSetTheValueBeforeOrLeaveIt() {
        // Made after the window: the whole window had the allocation before it.
        #expect(StoredHistory.allocations(now: 2, resource: 0, swaps: [swap(atSlot: 50, cpu: (6, 2))], startSlot: 0, slots: 30, interval: 300)
            == Array(repeating: 6, count: 30))
        // Made before the window: the whole window had the allocation after it.
        #expect(StoredHistory.allocations(now: 2, resource: 0, swaps: [swap(atSlot: 0, cpu: (6, 2))], startSlot: 10, slots: 30, interval: 300)
            == Array(repeating: 2, count: 30))
        #expect(StoredHistory.allocations(now: 2, resource: 0, swaps: [], startSlot: 10, slots: 0, interval: 300).isEmpty)
    }
}
