/// The last observed value.
public struct NaiveForecaster: Forecaster {
    public let name = "naive"
    public init() {}
    public func forecast(_ history: RecentHistory, into output: UnsafeMutableBufferPointer<Double>, scratch: inout [Double]) {
        output.fill(history.lastPresent)
    }
}

/// The value one season (default a day of 5-minute slots) before the target slot; the last
/// observed value when that slot is missing.
public struct SeasonalNaiveForecaster: Forecaster {
    public let name: String
    public let season: Int
    public init(season: Int = 288) {
        self.season = season
        name = "seasonal-naive-\(season)"
    }
    public func forecast(_ history: RecentHistory, into output: UnsafeMutableBufferPointer<Double>, scratch: inout [Double]) {
        for (step, index) in output.indices.enumerated() {
            let value = history[lag: season - step]
            output[index] = value.isNaN ? history.lastPresent : value
        }
    }
}

/// The median of the values at the same phase of the last `cycles` seasons (skipping
/// missing ones): periodic spikes (hourly jobs, daily batches) without one cycle's noise.
public struct SeasonalMedianForecaster: Forecaster {
    public let name: String
    public let season: Int
    public let cycles: Int

    public init(season: Int, cycles: Int) {
        precondition(season > 0 && cycles > 0)
        self.season = season
        self.cycles = cycles
        name = "seasonal-median-\(season)x\(cycles)"
    }

    public func forecast(_ history: RecentHistory, into output: UnsafeMutableBufferPointer<Double>, scratch: inout [Double]) {
        for (step, index) in output.indices.enumerated() {
            scratch.removeAll(keepingCapacity: true)
            // The target is `step + 1` slots ahead; the same phase k seasons back is at lag k·season − step.
            for cycle in 1...cycles {
                let lag = cycle * season - step
                guard lag >= 1 else { continue }
                let value = history[lag: lag]
                if !value.isNaN { scratch.append(value) }
            }
            guard !scratch.isEmpty else { output[index] = history.lastPresent; continue }
            scratch.sort()
            output[index] = medianOfSorted(scratch)
        }
    }
}

/// The last observed value plus the change the series made over the same steps one season
/// earlier: follows daily patterns (batch jobs, business hours) from the current level.
public struct SeasonalDifferenceForecaster: Forecaster {
    public let name: String
    public let season: Int
    public init(season: Int = 288) {
        self.season = season
        name = "seasonal-difference-\(season)"
    }
    public func forecast(_ history: RecentHistory, into output: UnsafeMutableBufferPointer<Double>, scratch: inout [Double]) {
        let last = history[lag: 1]
        let then = history[lag: season + 1]
        for (step, index) in output.indices.enumerated() {
            let target = history[lag: season - step]
            output[index] = last.isNaN || then.isNaN || target.isNaN ? history.lastPresent : max(0, last + target - then)
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

    public init(_ statistic: Statistic, of count: Int) {
        precondition(count > 0)
        self.statistic = statistic
        self.count = count
        name = "\(statistic)-\(count)"
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

    public func forecast(_ history: RecentHistory, into output: UnsafeMutableBufferPointer<Double>, scratch: inout [Double]) {
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

    public init(alpha: Double) {
        precondition(alpha > 0 && alpha <= 1)
        self.alpha = alpha
        name = "ses-\(alpha)"
    }

    public mutating func observe(_ value: Double, history: RecentHistory) {
        guard !value.isNaN else { return }
        level = level.isNaN ? value : level + alpha * (value - level)
    }

    public func forecast(_ history: RecentHistory, into output: UnsafeMutableBufferPointer<Double>, scratch: inout [Double]) {
        output.fill(level)
    }
}

/// The baselines every series starts with.
public func standardBaselines() -> [any Forecaster] {
    [
        NaiveForecaster(),
        SeasonalNaiveForecaster(),
        SeasonalDifferenceForecaster(),
        SeasonalMedianForecaster(season: 12, cycles: 5),
        SeasonalMedianForecaster(season: 288, cycles: 5),
        WindowForecaster(.mean, of: 3),
        WindowForecaster(.mean, of: 12),
        WindowForecaster(.median, of: 5),
        WindowForecaster(.median, of: 12),
        WindowForecaster(.median, of: 36),
        WindowForecaster(.median, of: 96),
        WindowForecaster(.median, of: 288),
        WindowForecaster(.mean, of: 36),
        ExponentialSmoothingForecaster(alpha: 0.5),
        ExponentialSmoothingForecaster(alpha: 0.2),
    ]
}
