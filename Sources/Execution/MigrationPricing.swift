import Drivers
import PoolCore

/// What a live migration costs in the swap problem's units (model cost of one slot), from the
/// driver's estimate of it:
///
///     fixed                                             the move's own risk, however fast
///   + sum over r of waste[r] * allocation[r] * seconds   both nodes hold the instance while it copies
///   + weight * sum over r of shortfall[r] * demand[r] * downtime
///                                                       the paused guest serves none of its demand
///
/// the seconds terms in slots (`slotSeconds`) and spread over the `slots` the plan holds for,
/// since a move is paid once and its benefit is counted per slot.
public enum MigrationPricing {
    public static func cost(_ estimate: MigrationEstimate, allocation: ResourceVector, demand: ResourceVector, weight: Double,
                            prices: Prices, fixed: Double, slotSeconds: Double, slots: Int) -> Double {
        var held = 0.0, unserved = 0.0
        for resource in Resource.allCases {
            held += prices.waste[resource.rawValue] * max(0, allocation[resource])
            unserved += prices.shortfall[resource.rawValue] * max(0, demand[resource])
        }
        let span = max(1, slotSeconds) * Double(max(1, slots))
        return fixed + (held * max(0, estimate.seconds) + weight * unserved * max(0, estimate.downtimeMilliseconds) / 1_000) / span
    }
}
