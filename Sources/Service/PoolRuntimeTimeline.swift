extension PoolRuntime {
    /// Adds this round's pool and nodes to the dashboard's timeline, with the shortfall of the
    /// slot observed (`lastShortfall`).
    func recordTimeline() {
        timeline.record(poolView(), shortfall: lastShortfall)
    }

    /// Each instance's usage in the slot last observed (cpu, memory, gpu).
    func lastUsed(_ ids: [String]) -> [String: [Double]] {
        var used: [String: [Double]] = [:]
        for id in ids { used[id] = forecaster.lastUsed[id] }
        return used
    }
}
