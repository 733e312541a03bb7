#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Everything one series needs to forecast itself online: its recent history, a bank of
/// models, which model is best lately at each horizon, and the residuals of its own past
/// forecasts for calibrating intervals.
///
/// Per slot: `observe(value)` scores the forecasts made for this slot, feeds the models, then
/// forecasts the next `maxHorizon` slots so they can be scored when they arrive.
public struct SeriesForecaster: Sendable {
    public let configuration: ForecastConfiguration
    public private(set) var history: RecentHistory
    private var models: [any Forecaster]
    /// Exponentially weighted mean absolute error, [model * maxHorizon + (horizon - 1)].
    private var recentError: [Double]
    /// Forecasts awaiting their slot: [(model * maxHorizon + horizon - 1) * ring + slot % ring].
    private var pending: [Double]
    /// The chosen forecast awaiting its slot: [(horizon - 1) * ring + slot % ring].
    private var pendingChosen: [Double]
    /// The best model behind each chosen forecast, laid out like `pendingChosen`; -1 for none.
    private var pendingChosenModel: [Int]
    private var ranked: [(error: Double, model: Int)] = []
    private let ring: Int
    private var residuals: [ResidualWindow]
    /// Mean absolute difference of consecutive present slots: the series' scale.
    private var differenceSum = 0.0
    private var differenceCount = 0
    private var scratch: [Double] = []
    /// The latest forecast of every model: [model * maxHorizon + horizon - 1].
    private var forecasts: [Double]
    private let decay: Double

    public init(configuration: ForecastConfiguration = ForecastConfiguration(), models: [any Forecaster] = standardBaselines()) {
        precondition(!models.isEmpty)
        self.configuration = configuration
        self.models = models
        history = RecentHistory(capacity: configuration.historySlots)
        ring = configuration.maxHorizon + 1
        recentError = [Double](repeating: .nan, count: models.count * configuration.maxHorizon)
        pending = [Double](repeating: .nan, count: models.count * configuration.maxHorizon * ring)
        pendingChosen = [Double](repeating: .nan, count: configuration.maxHorizon * ring)
        pendingChosenModel = [Int](repeating: -1, count: configuration.maxHorizon * ring)
        residuals = (0..<configuration.maxHorizon).map { _ in ResidualWindow(capacity: configuration.calibrationWindow) }
        decay = exp2(-1 / configuration.selectionHalfLife)
        forecasts = [Double](repeating: .nan, count: models.count * configuration.maxHorizon)
        scratch.reserveCapacity(configuration.historySlots)
    }

    public var modelNames: [String] { models.map(\.name) }
    public func residualCount(horizon: Int) -> Int { residuals[horizon - 1].count }

    /// The series' scale (mean absolute step), floored; nil before two consecutive samples.
    public var scale: Double? {
        differenceCount > 0 ? max(configuration.scaleFloor, differenceSum / Double(differenceCount)) : nil
    }

    /// Takes the next slot's value (NaN when missing). Returns the residuals (actual minus
    /// chosen point) this slot settled, per horizon, NaN where none.
    @discardableResult
    public mutating func observe(_ value: Double, settled: inout [Double]) -> Bool {
        let maxHorizon = configuration.maxHorizon
        let slot = history.count
        settled.removeAll(keepingCapacity: true)
        var anySettled = false
        if !value.isNaN {
            let previous = history[lag: 1]
            if !previous.isNaN {
                differenceSum += abs(value - previous)
                differenceCount += 1
            }
            for horizon in 1...maxHorizon {
                let chosen = pendingChosen[(horizon - 1) * ring + slot % ring]
                if chosen.isNaN {
                    settled.append(.nan)
                } else {
                    residuals[horizon - 1].append(value - chosen)
                    settled.append(value - chosen)
                    anySettled = true
                }
                for model in models.indices {
                    let key = model * maxHorizon + horizon - 1
                    let forecast = pending[key * ring + slot % ring]
                    guard !forecast.isNaN else { continue }
                    let error = abs(value - forecast)
                    recentError[key] = recentError[key].isNaN ? error : decay * recentError[key] + (1 - decay) * error
                }
            }
        }
        history.append(value)
        for model in models.indices { models[model].observe(value, history: history) }
        // Forecast the coming slots now, to score them when they arrive.
        let next = slot + 1
        for model in models.indices {
            var slice = forecasts[model * maxHorizon..<(model + 1) * maxHorizon]
            models[model].forecast(history, into: &slice, scratch: &scratch)
            forecasts[model * maxHorizon..<(model + 1) * maxHorizon] = slice
        }
        for horizon in 1...maxHorizon {
            let target = (next + horizon - 1) % ring
            for model in models.indices {
                let key = model * maxHorizon + horizon - 1
                pending[key * ring + target] = forecasts[key]
            }
            let (value, model) = combine(horizon: horizon)
            pendingChosen[(horizon - 1) * ring + target] = value
            pendingChosenModel[(horizon - 1) * ring + target] = model
        }
        return anySettled
    }

    /// The point forecast `horizon` slots after the last observed one and the model it comes
    /// from (the best of those combined).
    public func point(horizon: Int) -> (value: Double, model: String) {
        let key = (horizon - 1) * ring + (history.count + horizon - 1) % ring
        let model = pendingChosenModel[key]
        return model < 0 ? (.nan, "none") : (pendingChosen[key], models[model].name)
    }

    /// The median of the latest forecasts of the `combineBest` models with the lowest recent
    /// error at `horizon` (models never scored rank last), and the best model's index.
    private mutating func combine(horizon: Int) -> (value: Double, model: Int) {
        let maxHorizon = configuration.maxHorizon
        ranked.removeAll(keepingCapacity: true)
        for model in models.indices {
            let key = model * maxHorizon + horizon - 1
            guard !forecasts[key].isNaN else { continue }
            let error = recentError[key]
            ranked.append((error.isNaN ? .infinity : error, model))
        }
        guard !ranked.isEmpty else { return (.nan, -1) }
        ranked.sort { $0.error < $1.error || ($0.error == $1.error && $0.model < $1.model) }
        let wanted = configuration.combineBest.isEmpty ? 1 : configuration.combineBest[min(horizon, configuration.combineBest.count) - 1]
        let count = max(1, min(wanted, ranked.count))
        scratch.removeAll(keepingCapacity: true)
        for entry in ranked.prefix(count) { scratch.append(forecasts[entry.model * maxHorizon + horizon - 1]) }
        scratch.sort()
        let middle = count / 2
        let value = count % 2 == 1 ? scratch[middle] : (scratch[middle - 1] + scratch[middle]) / 2
        return (value, ranked[0].model)
    }

    /// Residual quantiles of this series at `horizon`, or nil with too few residuals of its own.
    func ownBounds(horizon: Int, scratch: inout [Double]) -> (lower: [Double], upper: [Double])? {
        let window = residuals[horizon - 1]
        guard window.count >= max(1, configuration.minimumOwnResiduals) else { return nil }
        return window.bounds(levels: IntervalForecast.levels, scratch: &scratch)
    }
}
