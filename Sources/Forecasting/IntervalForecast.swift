#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A forecast of one slot: the point and central prediction intervals at `levels`.
public struct IntervalForecast: Sendable, Equatable {
    /// Nominal coverage of each interval, ascending: 0.8, 0.9, 0.95.
    public static let levels: [Double] = [0.8, 0.9, 0.95]

    public var point: Double
    /// Lower and upper ends, indexed like `levels`; nested (wider levels contain narrower).
    public var lower: [Double]
    public var upper: [Double]
    /// The model whose point this is.
    public var model: String

    public init(point: Double, lower: [Double], upper: [Double], model: String) {
        self.point = point
        self.lower = lower
        self.upper = upper
        self.model = model
    }
}

extension IntervalForecast {
    /// The amount usage exceeds with chance `exceedance` (in 0...0.5): linear in probability
    /// between the point (0.5) and the upper ends (0.1, 0.05, 0.025), beyond the widest an
    /// exponential tail fitted to the two widest, as `ForecastQuantiles` reads them. Below
    /// chance 0.5, the point.
    public func upperQuantile(exceedance: Double) -> Double {
        let levels = Self.levels
        guard exceedance < 0.5 else { return point }
        var previousChance = 0.5, previous = point
        for k in levels.indices {
            let chance = (1 - levels[k]) / 2
            let value = max(upper[k], previous)
            if exceedance >= chance {
                guard previousChance > chance else { return value }
                return value + (previous - value) * (exceedance - chance) / (previousChance - chance)
            }
            if k == levels.count - 1 {
                // Tail: chance(x) = chance · exp(-(x - value) / scale), scale from the last two ends.
                let scale = (value - previous) / log(previousChance / chance)
                // No spread: a point mass, which anything just above is never exceeded by.
                return scale > 0 ? value + scale * log(chance / max(exceedance, 1e-12)) : value.nextUp
            }
            (previousChance, previous) = (chance, value)
        }
        return previous
    }
}
