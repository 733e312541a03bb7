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
    /// The network among the models, if any, and for each interval level the indices of its
    /// quantile heads for that level's ends.
    private let network: (model: Int, heads: [(lower: Int, upper: Int)])?
    /// The network's interval ends awaiting their slot: [(level * maxHorizon + horizon - 1) * ring + slot % ring].
    private var pendingNetworkLower: [Double]
    private var pendingNetworkUpper: [Double]
    /// Conformity scores max(lower - y, y - upper) of the network's intervals, per level and horizon.
    private var networkScores: [ResidualWindow]
    /// The coverage level each network interval is calibrated to, per level and horizon, moved
    /// by adaptive conformal inference: up after a miss, down after a hit, so that each series'
    /// long-run coverage meets the nominal level even when its errors drift.
    private var networkLevel: [Double]

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
        let levels = IntervalForecast.levels
        if let index = models.firstIndex(where: { $0 is NetworkForecaster }), let net = models[index] as? NetworkForecaster {
            let quantiles = net.network.shape.quantiles
            let heads = levels.compactMap { level -> (lower: Int, upper: Int)? in
                guard let lower = quantiles.firstIndex(where: { abs($0 - (1 - level) / 2) < 1e-9 }),
                      let upper = quantiles.firstIndex(where: { abs($0 - (1 + level) / 2) < 1e-9 }) else { return nil }
                return (lower, upper)
            }
            network = heads.count == levels.count && net.network.shape.horizons >= configuration.maxHorizon ? (index, heads) : nil
        } else {
            network = nil
        }
        let slots = network == nil ? 0 : levels.count * configuration.maxHorizon * ring
        pendingNetworkLower = [Double](repeating: .nan, count: slots)
        pendingNetworkUpper = pendingNetworkLower
        networkScores = (0..<(network == nil ? 0 : levels.count * configuration.maxHorizon)).map { _ in
            ResidualWindow(capacity: configuration.calibrationWindow)
        }
        networkLevel = network == nil ? [] : levels.flatMap { level in Array(repeating: level, count: configuration.maxHorizon) }
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
            if network != nil {
                for key in networkScores.indices {
                    let lower = pendingNetworkLower[key * ring + slot % ring], upper = pendingNetworkUpper[key * ring + slot % ring]
                    guard !lower.isNaN else { continue }
                    let score = max(lower - value, value - upper)
                    if networkScores[key].count >= max(1, configuration.minimumOwnResiduals) {
                        let widen = networkScores[key].conformalQuantile(level: networkLevel[key], scratch: &scratch)
                        let miss = score > widen ? 1.0 : 0.0
                        let nominal = IntervalForecast.levels[key / maxHorizon]
                        networkLevel[key] = min(0.999, max(0.5, networkLevel[key] + configuration.adaptationRate * (miss - (1 - nominal))))
                    }
                    networkScores[key].append(score)
                }
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
            if let network, network.model == model {
                recordNetwork(network, next: next)
                continue
            }
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

    /// Runs the network once: its medians become its point forecasts, its quantile heads the
    /// pending interval ends scored when their slots arrive.
    private mutating func recordNetwork(_ network: (model: Int, heads: [(lower: Int, upper: Int)]), next: Int) {
        let maxHorizon = configuration.maxHorizon
        let forecaster = models[network.model] as! NetworkForecaster
        let prediction = forecaster.quantileForecast(history, scratch: &scratch)
        let quantiles = forecaster.network.shape.quantiles
        let median = quantiles.firstIndex(of: 0.5)!
        for horizon in 1...maxHorizon {
            let row = (horizon - 1) * quantiles.count
            forecasts[network.model * maxHorizon + horizon - 1] = prediction.map { $0[row + median] } ?? .nan
            for (level, heads) in network.heads.enumerated() {
                let key = (level * maxHorizon + horizon - 1) * ring + (next + horizon - 1) % ring
                pendingNetworkLower[key] = prediction.map { $0[row + heads.lower] } ?? .nan
                pendingNetworkUpper[key] = prediction.map { $0[row + heads.upper] } ?? .nan
            }
        }
    }

    /// Conformalised quantile regression: the network's interval ends at `horizon`, each widened
    /// by the conformal quantile of its recent conformity scores, relative to `point`; nil when
    /// the network has no interval for that slot or too few scores.
    func networkBounds(horizon: Int, point: Double, scratch: inout [Double]) -> (lower: [Double], upper: [Double])? {
        guard let network else { return nil }
        let maxHorizon = configuration.maxHorizon
        var lower: [Double] = [], upper: [Double] = []
        for level in IntervalForecast.levels.indices {
            let key = level * maxHorizon + horizon - 1
            let window = networkScores[key]
            let slot = key * ring + (history.count + horizon - 1) % ring
            let low = pendingNetworkLower[slot], high = pendingNetworkUpper[slot]
            guard !low.isNaN, window.count >= max(1, configuration.minimumOwnResiduals) else { return nil }
            let widen = window.conformalQuantile(level: networkLevel[key], scratch: &scratch)
            // A negative widening narrows the interval; past its middle it is a single point.
            var a = low - widen, b = high + widen
            if a > b { (a, b) = ((a + b) / 2, (a + b) / 2) }
            // Keep the levels nested even where the heads cross.
            lower.append(min(a, lower.last.map { $0 + point } ?? .infinity) - point)
            upper.append(max(b, upper.last.map { $0 + point } ?? -.infinity) - point)
        }
        return (lower, upper)
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
        return (medianOfSorted(scratch), ranked[0].model)
    }

    /// Residual quantiles of this series at `horizon`, or nil with too few residuals of its own.
    func ownBounds(horizon: Int, scratch: inout [Double]) -> (lower: [Double], upper: [Double])? {
        let window = residuals[horizon - 1]
        guard window.count >= max(1, configuration.minimumOwnResiduals) else { return nil }
        return window.bounds(levels: IntervalForecast.levels, scratch: &scratch)
    }
}
