/// The last observed value.
public struct NaiveForecaster: Forecaster {
    public let name = "naive"
    public init() {}
    public func forecast(_ history: RecentHistory, into output: inout ArraySlice<Double>, scratch: inout [Double]) {
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
    public func forecast(_ history: RecentHistory, into output: inout ArraySlice<Double>, scratch: inout [Double]) {
        for (step, index) in output.indices.enumerated() {
            let value = history[lag: season - step]
            output[index] = value.isNaN ? history.lastPresent : value
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
    public func forecast(_ history: RecentHistory, into output: inout ArraySlice<Double>, scratch: inout [Double]) {
        let last = history[lag: 1]
        let then = history[lag: season + 1]
        for (step, index) in output.indices.enumerated() {
            let target = history[lag: season - step]
            output[index] = last.isNaN || then.isNaN || target.isNaN ? history.lastPresent : max(0, last + target - then)
        }
    }
}

/// The mean or median of the last `count` observed values (within a day).
public struct WindowForecaster: Forecaster {
    public enum Statistic: String, Sendable { case mean, median }
    public let name: String
    public let count: Int
    public let statistic: Statistic

    public init(_ statistic: Statistic, of count: Int) {
        self.statistic = statistic
        self.count = count
        name = "\(statistic)-\(count)"
    }

    public func forecast(_ history: RecentHistory, into output: inout ArraySlice<Double>, scratch: inout [Double]) {
        history.recentPresent(count, within: 288, into: &scratch)
        guard !scratch.isEmpty else { return output.fill(history.lastPresent) }
        switch statistic {
        case .mean:
            output.fill(scratch.reduce(0, +) / Double(scratch.count))
        case .median:
            scratch.sort()
            let middle = scratch.count / 2
            output.fill(scratch.count % 2 == 1 ? scratch[middle] : (scratch[middle - 1] + scratch[middle]) / 2)
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

    public func forecast(_ history: RecentHistory, into output: inout ArraySlice<Double>, scratch: inout [Double]) {
        output.fill(level)
    }
}

/// The baselines every series starts with.
public func standardBaselines() -> [any Forecaster] {
    [
        NaiveForecaster(),
        SeasonalNaiveForecaster(),
        SeasonalDifferenceForecaster(),
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
