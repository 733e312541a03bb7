import Drivers
import PoolCore

/// What a live migration costs in the swap problem's units (the model cost of one slot), from
/// the driver's estimate of it, charged whole as the problem's change costs are:
///
///     fixed                                                the move's own risk, however fast
///   + sum over r of waste[r] * allocation[r] * seconds      both nodes hold the instance while it copies
///   + weight * (shortfall[cpu] * demand[cpu] + shortfall[gpu] * demand[gpu]) * downtime
///                                                          the paused guest computes nothing (it keeps its memory)
///
/// with seconds and downtime counted in slots of `slotSeconds`.
public enum MigrationPricing {
    public static func cost(_ estimate: MigrationEstimate, allocation: ResourceVector, demand: ResourceVector, weight: Double,
                            waste: [Double], shortfall: [Double], fixed: Double, slotSeconds: Double) -> Double {
        var held = 0.0
        for resource in Resource.allCases { held += waste[resource.rawValue] * max(0, allocation[resource]) }
        let unserved = shortfall[Resource.cpu.rawValue] * max(0, demand.cpu) + shortfall[Resource.gpu.rawValue] * max(0, demand.gpu)
        let slot = max(1, slotSeconds)
        return fixed + held * max(0, estimate.seconds) / slot + weight * unserved * max(0, estimate.downtimeMilliseconds) / 1_000 / slot
    }
}
