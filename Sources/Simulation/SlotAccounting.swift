import PoolCore

extension SimulationResult {
    /// Accounts one slot: every present instance's allocation against what it used (slack,
    /// shortfall, short intervals; throttling and OOM kills by the reactive rule), in total
    /// and per tier. `tiers[i]` is instance `i`'s tier.
    public mutating func account(instances count: Int, tiers: [SLATier], hoursPerSlot: Double, present: (Int) -> Bool,
                                 usage: (Int) -> ResourceVector, allocation: (Int) -> ResourceVector) {
        var slack = ResourceVector.zero, shortfall = ResourceVector.zero, allocated = ResourceVector.zero, used = ResourceVector.zero
        for index in 0..<count where present(index) {
            var demand = usage(index), held = allocation(index)
            var own = ResourceVector.zero, short = ResourceVector.zero
            for resource in Resource.allCases {
                // A resource the sample lacks is not accounted: neither held nor used nor short.
                if demand[resource].isNaN { demand[resource] = 0; held[resource] = 0; continue }
                let gap = held[resource] - demand[resource]
                if gap >= 0 { own[resource] = gap } else { short[resource] = -gap }
            }
            let tier = tiers[index].rawValue
            let isShort = short.cpu > 0 || short.memory > 0 || short.gpu > 0
            if isShort { shortfallIntervals += 1; self.tiers[tier].shortfallIntervals += 1 }
            for resource in Resource.allCases where short[resource] > 0 {
                shortfallIntervalsByResource[resource.rawValue] += 1
                self.tiers[tier].shortfallIntervalsByResource[resource.rawValue] += 1
            }
            if short.memory > 0 { oomKills += 1; self.tiers[tier].oomKills += 1 }
            if short.cpu > 0 { self.tiers[tier].throttledCoreHours += short.cpu * hoursPerSlot }
            slack += own
            shortfall += short
            allocated += held
            used += demand
            instanceIntervals += 1
            self.tiers[tier].instanceIntervals += 1
            self.tiers[tier].slackHours += own * hoursPerSlot
            self.tiers[tier].shortfallHours += short * hoursPerSlot
            self.tiers[tier].allocatedHours += held * hoursPerSlot
            self.tiers[tier].usedHours += demand * hoursPerSlot
        }
        throttledCoreHours += shortfall.cpu * hoursPerSlot
        slackHours += slack * hoursPerSlot
        shortfallHours += shortfall * hoursPerSlot
        allocatedHours += allocated * hoursPerSlot
        usedHours += used * hoursPerSlot
        slackPerSlot.append(slack)
        shortfallPerSlot.append(shortfall)
        allocatedPerSlot.append(allocated)
        usedPerSlot.append(used)
    }
}
