/// The last observed value.
public struct NaiveForecaster: Forecaster {
    public let name = "naive"
    public init() {}
    public func forecast(_ history: RecentHistory, horizons: [Int], into output: UnsafeMutableBufferPointer<Double>, scratch: inout [Double]) {
        output.fill(history.lastPresent)
    }
}

/// The value one season (a day, say) before the target slot; the last observed value when
/// that slot is missing.
public struct SeasonalNaiveForecaster: Forecaster {
    public let name: String
    public let season: Int
    /// `label` names the season in the model's name (default its slots).
    public init(season: Int, label: String? = nil) {
        self.season = season
        name = "seasonal-naive-\(label ?? "\(season)")"
    }
    public func forecast(_ history: RecentHistory, horizons: [Int], into output: UnsafeMutableBufferPointer<Double>, scratch: inout [Double]) {
        for (k, horizon) in horizons.enumerated() {
            let value = history[lag: season - horizon + 1]
            output[k] = value.isNaN ? history.lastPresent : value
        }
    }
}

/// The median of the values at the same phase of the last `cycles` seasons (skipping
/// missing ones): periodic spikes (hourly jobs, daily batches) without one cycle's noise.
public struct SeasonalMedianForecaster: Forecaster {
    public let name: String
    public let season: Int
    public let cycles: Int

    public init(season: Int, cycles: Int, label: String? = nil) {
        precondition(season > 0 && cycles > 0)
        self.season = season
        self.cycles = cycles
        name = "seasonal-median-\(label ?? "\(season)")x\(cycles)"
    }

    public func forecast(_ history: RecentHistory, horizons: [Int], into output: UnsafeMutableBufferPointer<Double>, scratch: inout [Double]) {
        for (k, horizon) in horizons.enumerated() {
            scratch.removeAll(keepingCapacity: true)
            // The target is `horizon` slots ahead; the same phase c seasons back is at lag c·season − horizon + 1.
            for cycle in 1...cycles {
                let lag = cycle * season - horizon + 1
                guard lag >= 1 else { continue }
                let value = history[lag: lag]
                if !value.isNaN { scratch.append(value) }
            }
            guard !scratch.isEmpty else { output[k] = history.lastPresent; continue }
            scratch.sort()
            output[k] = medianOfSorted(scratch)
        }
    }
}

/// The last observed value plus the change the series made over the same steps one season
/// earlier: follows daily patterns (batch jobs, business hours) from the current level.
public struct SeasonalDifferenceForecaster: Forecaster {
    public let name: String
    public let season: Int
    public init(season: Int, label: String? = nil) {
        self.season = season
        name = "seasonal-difference-\(label ?? "\(season)")"
    }
    public func forecast(_ history: RecentHistory, horizons: [Int], into output: UnsafeMutableBufferPointer<Double>, scratch: inout [Double]) {
        let last = history[lag: 1]
        let then = history[lag: season + 1]
        for (k, horizon) in horizons.enumerated() {
            let target = history[lag: season - horizon + 1]
            output[k] = last.isNaN || then.isNaN || target.isNaN ? history.lastPresent : max(0, last + target - then)
        }
    }
}

/// The mean or median of the last `count` observed values.
///
/// Keeps those values in arrival order and sorted, so each slot costs O(count) moves rather
/// than a sort.
public struct WindowForecaster: Forecaster {
    public enum Statistic: String, Sendable { case mean, median }
    public let name: String
    public let count: Int
    public let statistic: Statistic
    private var arrival: [Double] = []
    private var oldest = 0
    private var sorted: [Double] = []
    private var sum = 0.0

    public init(_ statistic: Statistic, of count: Int, label: String? = nil) {
        precondition(count > 0)
        self.statistic = statistic
        self.count = count
        name = "\(statistic)-\(label ?? "\(count)")"
    }

    public mutating func observe(_ value: Double, history: RecentHistory) {
        guard !value.isNaN else { return }
        if arrival.count < count {
            arrival.append(value)
        } else {
            let leaving = arrival[oldest]
            arrival[oldest] = value
            oldest = (oldest + 1) % count
            sum -= leaving
            sorted.remove(at: firstIndex(notBelow: leaving, in: sorted))
        }
        sum += value
        sorted.insert(value, at: firstIndex(notBelow: value, in: sorted))
        if arrival.count == count && oldest == 0 { sum = arrival.reduce(0, +) } // shed rounding drift once per cycle
    }

    public func forecast(_ history: RecentHistory, horizons: [Int], into output: UnsafeMutableBufferPointer<Double>, scratch: inout [Double]) {
        guard !sorted.isEmpty else { return output.fill(history.lastPresent) }
        switch statistic {
        case .mean:
            output.fill(sum / Double(sorted.count))
        case .median:
            output.fill(medianOfSorted(sorted))
        }
    }
}

/// Simple exponential smoothing with a fixed smoothing factor; a missing slot leaves the
/// level as it was.
public struct ExponentialSmoothingForecaster: Forecaster {
    public let name: String
    public let alpha: Double
    private var level = Double.nan

    /// `alpha` per slot; `label` names it in the model's name (default `alpha`).
    public init(alpha: Double, label: String? = nil) {
        precondition(alpha > 0 && alpha <= 1)
        self.alpha = alpha
        name = "ses-\(label ?? "\(alpha)")"
    }

    public mutating func observe(_ value: Double, history: RecentHistory) {
        guard !value.isNaN else { return }
        level = level.isNaN ? value : level + alpha * (value - level)
    }

    public func forecast(_ history: RecentHistory, horizons: [Int], into output: UnsafeMutableBufferPointer<Double>, scratch: inout [Double]) {
        output.fill(level)
    }
}

/// The baselines every series starts with, their seasons and windows set in time and counted
/// in slots of `cadence` (at 300 s: a day is 288 slots, 15 minutes 3).
public func standardBaselines(_ cadence: Cadence = Cadence(interval: 300)) -> [any Forecaster] {
    let day = 86_400, hour = 3_600
    func window(_ statistic: WindowForecaster.Statistic, _ seconds: Int) -> WindowForecaster {
        WindowForecaster(statistic, of: cadence.slots(seconds), label: Cadence.label(seconds))
    }
    // Smoothing factors are per 5 minutes: the same memory in time at any interval.
    func smoothing(_ alpha: Double) -> ExponentialSmoothingForecaster {
        ExponentialSmoothingForecaster(alpha: cadence.perSlot(alpha, per: 300), label: "\(alpha)")
    }
    return [
        NaiveForecaster(),
        SeasonalNaiveForecaster(season: cadence.day, label: "1d"),
        SeasonalDifferenceForecaster(season: cadence.day, label: "1d"),
        SeasonalMedianForecaster(season: cadence.slots(hour), cycles: 5, label: "1h"),
        SeasonalMedianForecaster(season: cadence.day, cycles: 5, label: "1d"),
        window(.mean, 900),
        window(.mean, hour),
        window(.median, 1_500),
        window(.median, hour),
        window(.median, 3 * hour),
        window(.median, 8 * hour),
        window(.median, day),
        window(.mean, 3 * hour),
        smoothing(0.5),
        smoothing(0.2),
    ]
}
