import Storage

/// One instance's stored past on a grid of slots, as the live forecaster would have been fed
/// it: per slot the newest sample's cpu, memory and gpu (NaN where none) and the allocation the
/// slot had, rebuilt backwards from the allocation now through the executed swaps. The warm
/// start and the networks' training read it.
struct StoredHistory {
    var cpu: [Double]
    var memory: [Double]
    var gpu: [Double]
    /// Per resource (cpu, memory, gpu), the allocation in each slot.
    var allocation: [[Double]]
    /// Time of the oldest sample read, and the newest sample.
    var oldest: Int64?
    var newest: UsageSample?

    /// The `slots` slots of `interval` seconds from absolute slot `startSlot`.
    static func read(_ record: InstanceRecord, startSlot: Int64, slots: Int, interval: Int64,
                     from store: any PoolStore) async throws -> StoredHistory {
        let start = startSlot * interval
        let missing = [Double](repeating: .nan, count: slots)
        var history = StoredHistory(cpu: missing, memory: missing, gpu: missing, allocation: [], oldest: nil, newest: nil)
        // Samples come in time order: the newest of a slot stays, as live.
        for sample in try await store.samples(instance: record.id, from: start, to: start + Int64(slots) * interval) {
            let k = Int((sample.time - start) / interval)
            guard k >= 0, k < slots else { continue }
            history.cpu[k] = sample.used[0]
            history.memory[k] = sample.used[1]
            history.gpu[k] = sample.used[2]
            history.oldest = history.oldest ?? sample.time
            history.newest = sample
        }
        let swaps = try await store.swapHistory(SwapHistoryQuery(instance: record.id, limit: 1_000_000))
            .filter { $0.tookEffect && ($0.time >= start || ($0.endedAt ?? .max) >= start) }
        history.allocation = (0..<3).map { resource in
            allocations(now: record.allocation[resource], resource: resource, swaps: swaps, startSlot: startSlot, slots: slots, interval: interval)
        }
        return history
    }

    /// The allocation of `resource` in each of `slots` slots from absolute slot `startSlot`.
    /// A swap recorded at time t applies from the slot starting at t (the loop executes it
    /// after observing the slot before); its rollback from the slot starting at its end.
    static func allocations(now current: Double, resource: Int, swaps: [SwapRecord], startSlot: Int64, slots: Int,
                            interval: Int64) -> [Double] {
        var changes: [(time: Int64, from: Double)] = []
        for swap in swaps where swap.tookEffect && resource < swap.before.count {
            changes.append((swap.time, swap.before[resource]))
            if swap.outcome == .rolledBack || swap.outcome == .failedSafe, let ended = swap.endedAt {
                changes.append((ended, swap.after[resource]))
            }
        }
        changes.sort { $0.time > $1.time }
        var history = [Double](repeating: current, count: slots)
        var value = current, end = slots
        for change in changes {
            let first = Int(min(max(change.time / interval - startSlot, 0), Int64(end)))
            for k in first..<end { history[k] = value }
            value = change.from
            end = first
        }
        for k in 0..<end { history[k] = value }
        return history
    }
}
