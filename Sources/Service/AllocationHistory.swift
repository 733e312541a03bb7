import Storage

/// What an instance was allocated slot by slot, rebuilt backwards from its allocation now
/// through its executed swaps: the networks learn and warm up on the allocation each slot
/// really had, as the live forecaster is fed it.
enum AllocationHistory {
    /// The allocation of `resource` in each of `slots` slots from absolute slot `startSlot`.
    /// A swap recorded at time t applies from the slot starting at t (the loop executes it
    /// after observing the slot before).
    static func rebuild(now current: Double, resource: Int, swaps: [SwapRecord], startSlot: Int64, slots: Int,
                        interval: Int64) -> [Double] {
        var history = [Double](repeating: current, count: slots)
        var value = current, end = slots
        let executed = swaps.filter { $0.outcome == .executed && resource < $0.before.count }.sorted { $0.time > $1.time }
        for swap in executed {
            let first = Int(min(max(swap.time / interval - startSlot, 0), Int64(end)))
            for k in first..<end { history[k] = value }
            value = swap.before[resource]
            end = first
        }
        for k in 0..<end { history[k] = value }
        return history
    }

    /// The executed swaps of `instance` since pool time `from`, newest first.
    static func swaps(of instance: String, since from: Int64, in store: any PoolStore) async throws -> [SwapRecord] {
        try await store.swapHistory(SwapHistoryQuery(instance: instance, from: from, outcome: .executed, limit: 1_000_000))
    }
}
