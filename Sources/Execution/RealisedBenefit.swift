import PoolCore

/// The model's prices, as the swap problem has them.
public struct Prices: Sendable, Equatable, Codable {
    /// Per resource (cpu, memory, gpu) and unit: waste above demand, shortfall below it (times the
    /// SLA weight), and change.
    public var waste: [Double]
    public var shortfall: [Double]
    public var change: [Double]
    /// Model cost of one OOM kill, before the SLA weight.
    public var oomKill: Double

    public init(waste: [Double], shortfall: [Double], change: [Double], oomKill: Double) {
        self.waste = waste
        self.shortfall = shortfall
        self.change = change
        self.oomKill = oomKill
    }
}

/// What a swap gave, measured by the driver over its verification window, in the units of
/// the plan's predicted benefit (model cost of one slot).
///
/// For each round after the swap, the demand is what the driver measured: cpu served plus cpu
/// throttled, memory's working set. The cost of that round at the new allocation uses what was
/// measured (slack above the served usage, throttled cores, OOM kills); the cost at the old
/// allocation is the same model at the measured demand. Their mean difference, less the change
/// and migration costs, is the realised benefit.
public enum RealisedBenefit {
    /// Mean benefit per round and mean utilisation (used / new allocation, cpu and memory
    /// averaged) over the present rounds; nil when none was present.
    public static func measure(_ change: SwapChange, rounds: [VerificationRound], weight: Double, migrationCost: Double,
                               prices: Prices) -> (benefit: Double, utilisation: Double)? {
        let present = rounds.filter(\.present)
        guard !present.isEmpty else { return nil }
        let before = change.before, after = change.after
        var saved = 0.0, utilisation = 0.0
        for round in present {
            let demandCPU = round.cpu + round.throttled
            let old = prices.waste[0] * max(0, before.cpu - demandCPU) + weight * prices.shortfall[0] * max(0, demandCPU - before.cpu)
                + prices.waste[1] * max(0, before.memory - round.memory) + weight * prices.shortfall[1] * max(0, round.memory - before.memory)
            let new = prices.waste[0] * max(0, after.cpu - round.cpu) + weight * prices.shortfall[0] * round.throttled
                + prices.waste[1] * max(0, after.memory - round.memory) + weight * prices.shortfall[1] * max(0, round.memory - after.memory)
                + weight * prices.oomKill * Double(round.oomKills)
            saved += old - new
            let shares = [after.cpu > 0 ? round.cpu / after.cpu : 0, after.memory > 0 ? round.memory / after.memory : 0]
            utilisation += (shares[0] + shares[1]) / 2
        }
        let changeCost = Resource.allCases.reduce(0.0) { $0 + prices.change[$1.rawValue] * abs(after[$1] - before[$1]) }
        let n = Double(present.count)
        return (saved / n - changeCost - (change.migrates ? migrationCost : 0), utilisation / n)
    }
}
