#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A forecast of one resource of one instance for the slots of a horizon, as quantiles: what
/// the risk assessment reads the chance of exceeding an allocation from.
public struct ForecastQuantiles: Sendable, Equatable, Codable {
    /// Probabilities of the quantiles, ascending (e.g. 0.025, 0.05, 0.1, 0.5, 0.9, 0.95, 0.975).
    public var levels: [Double]
    /// Per slot of the horizon (index 0 = the next slot), the quantile values at `levels`.
    public var slots: [[Double]]

    public init(levels: [Double], slots: [[Double]]) {
        self.levels = levels
        self.slots = slots
    }

    /// True when there is a slot and every value is finite.
    public var isUsable: Bool {
        !slots.isEmpty && levels.count >= 2 && slots.allSatisfy { $0.count == levels.count && $0.allSatisfy(\.isFinite) }
    }

    /// The largest, over the horizon's slots, chance that usage exceeds `amount` in that slot.
    public func exceedance(_ amount: Double) -> Double {
        slots.reduce(0) { max($0, Self.exceedance(amount, levels: levels, quantiles: $1)) }
    }

    /// P(X > amount) for one slot: linear between quantiles, exponential tails fitted to the
    /// two outermost quantiles on each side. Quantile values out of order are sorted first.
    public static func exceedance(_ amount: Double, levels: [Double], quantiles: [Double]) -> Double {
        let q = quantiles.sorted()
        let n = q.count
        guard n >= 2, n == levels.count, amount.isFinite else { return amount == .infinity ? 0 : 1 }
        if amount >= q[n - 1] {
            let tail = 1 - levels[n - 1]
            let spread = q[n - 1] - q[n - 2]
            guard spread > 0 else { return amount > q[n - 1] ? 0 : tail }
            let scale = spread / log((1 - levels[n - 2]) / tail)
            return tail * exp(-(amount - q[n - 1]) / scale)
        }
        if amount < q[0] {
            let spread = q[1] - q[0]
            guard spread > 0 else { return 1 }
            let scale = spread / log(levels[1] / levels[0])
            return 1 - levels[0] * exp(-(q[0] - amount) / scale)
        }
        var i = 0
        while i + 1 < n - 1, amount >= q[i + 1] { i += 1 }
        let width = q[i + 1] - q[i]
        let cdf = width > 0 ? levels[i] + (levels[i + 1] - levels[i]) * (amount - q[i]) / width : levels[i + 1]
        return 1 - cdf
    }
}
