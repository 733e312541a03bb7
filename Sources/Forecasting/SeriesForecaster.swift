#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Everything one series needs to forecast itself online: its recent history, a bank of
/// baselines combined by their recent error, the global network's forecasts for it, which of
/// the two is better lately at each horizon, and the scores that calibrate its intervals.
///
/// Per slot, in three steps driven by `ForecastEngine`: `observe(value)` scores the forecasts
/// made for this slot, feeds the baselines and combines their forecasts of the coming slots;
/// `receiveNetwork` takes the network's forecasts of those slots, if it made any; `choose`
/// picks, per horizon, the network or the combined baselines.
public struct SeriesForecaster: Sendable {
    public let configuration: ForecastConfiguration
    public private(set) var history: RecentHistory
    private var models: [any Forecaster]
    /// Exponentially weighted mean absolute error, [model * maxHorizon + (horizon - 1)].
    private var recentError: [Double]
    /// Forecasts awaiting their slot: [(model * maxHorizon + horizon - 1) * ring + slot % ring].
    private var pending: [Double]
    /// The latest forecast of every model: [model * maxHorizon + horizon - 1].
    private var forecasts: [Double]
    private var ranked: [(error: Double, model: Int)] = []
    private let ring: Int
    private let decay: Double
    private let choiceDecay: Double
    /// The baselines' combination awaiting its slot, and the best baseline behind it:
    /// [(horizon - 1) * ring + slot % ring].
    private var pendingCombined: [Double]
    private var pendingCombinedModel: [Int]
    /// The network's median awaiting its slot, laid out like `pendingCombined`.
    private var pendingNetwork: [Double]
    /// Recent error of the combination and of the network's median per horizon (half-life
    /// `choiceHalfLife`), on the slots where both forecast.
    private var combinedError: [Double]
    private var networkError: [Double]
    /// The chosen point awaiting its slot, laid out like `pendingCombined`, and the model it
    /// comes from (a baseline's index, `models.count` for the network, -1 for none).
    private var pendingChosen: [Double]
    private var pendingChosenModel: [Int]
    private var residuals: [ResidualWindow]
    /// Mean absolute difference of consecutive present slots: the series' scale.
    private var differenceSum = 0.0
    private var differenceCount = 0
    private var scratch: [Double] = []
    /// The network's interval ends awaiting their slot: [(level * maxHorizon + horizon - 1) * ring + slot % ring].
    private var pendingNetworkLower: [Double]
    private var pendingNetworkUpper: [Double]
    /// Conformity scores max(lower - y, y - upper) of the network's intervals, per level and horizon.
    private var networkScores: [ResidualWindow]
    /// The coverage level each network interval is calibrated to, per level and horizon, moved
    /// by adaptive conformal inference: up after a miss, down after a hit, so that each series'
    /// long-run coverage meets the nominal level even when its errors drift.
    private var networkLevel: [Double]
    /// The name of the network, for `point(horizon:)`.
    public var networkName = "network"

    public init(configuration: ForecastConfiguration = ForecastConfiguration(), models: [any Forecaster] = standardBaselines()) {
        precondition(!models.isEmpty)
        let maxHorizon = configuration.maxHorizon, levels = IntervalForecast.levels.count
        self.configuration = configuration
        self.models = models
        history = RecentHistory(capacity: configuration.historySlots)
        ring = maxHorizon + 1
        recentError = [Double](repeating: .nan, count: models.count * maxHorizon)
        pending = [Double](repeating: .nan, count: models.count * maxHorizon * ring)
        forecasts = [Double](repeating: .nan, count: models.count * maxHorizon)
        decay = exp2(-1 / configuration.selectionHalfLife)
        choiceDecay = exp2(-1 / configuration.choiceHalfLife)
        pendingCombined = [Double](repeating: .nan, count: maxHorizon * ring)
        pendingCombinedModel = [Int](repeating: -1, count: maxHorizon * ring)
        pendingNetwork = pendingCombined
        combinedError = [Double](repeating: .nan, count: maxHorizon)
        networkError = combinedError
        pendingChosen = pendingCombined
        pendingChosenModel = pendingCombinedModel
        residuals = (0..<maxHorizon).map { _ in ResidualWindow(capacity: configuration.calibrationWindow) }
        scratch.reserveCapacity(configuration.historySlots)
        pendingNetworkLower = [Double](repeating: .nan, count: levels * maxHorizon * ring)
        pendingNetworkUpper = pendingNetworkLower
        networkScores = (0..<(levels * maxHorizon)).map { _ in ResidualWindow(capacity: configuration.networkCalibrationWindow) }
        networkLevel = IntervalForecast.levels.flatMap { Array(repeating: $0, count: maxHorizon) }
    }

    public var modelNames: [String] { models.map(\.name) }
    public func residualCount(horizon: Int) -> Int { residuals[horizon - 1].count }

    /// The series' scale (mean absolute step), floored; nil before two consecutive samples.
    public var scale: Double? {
        differenceCount > 0 ? max(configuration.scaleFloor, differenceSum / Double(differenceCount)) : nil
    }

    /// Takes the next slot's value (NaN when missing): scores what was forecast for it, feeds
    /// the baselines and combines their forecasts of the coming slots. Writes into `settled`
    /// the residuals (actual minus chosen point) this slot settled, per horizon, NaN where
    /// none; returns whether there was any.
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
            scoreNetworkIntervals(value, slot: slot)
            for horizon in 1...maxHorizon {
                let key = (horizon - 1) * ring + slot % ring
                let chosen = pendingChosen[key]
                if chosen.isNaN {
                    settled.append(.nan)
                } else {
                    residuals[horizon - 1].append(value - chosen)
                    settled.append(value - chosen)
                    anySettled = true
                }
                let combined = pendingCombined[key], network = pendingNetwork[key]
                if !combined.isNaN && !network.isNaN {
                    Self.smooth(&combinedError[horizon - 1], abs(value - combined), choiceDecay)
                    Self.smooth(&networkError[horizon - 1], abs(value - network), choiceDecay)
                }
                for model in models.indices {
                    let forecast = pending[(model * maxHorizon + horizon - 1) * ring + slot % ring]
                    guard !forecast.isNaN else { continue }
                    Self.smooth(&recentError[model * maxHorizon + horizon - 1], abs(value - forecast), decay)
                }
            }
        }
        history.append(value)
        for model in models.indices { models[model].observe(value, history: history) }
        // Forecast the coming slots now, to score them when they arrive.
        let next = slot + 1
        // Written in place: locals, so that the closure touches no other part of `self`.
        let (models, history) = (self.models, self.history)
        var scratch: [Double] = []
        swap(&scratch, &self.scratch) // moved, not shared: no copy when it is written
        forecasts.withUnsafeMutableBufferPointer { all in
            for model in models.indices {
                models[model].forecast(history, into: UnsafeMutableBufferPointer(rebasing: all[model * maxHorizon..<(model + 1) * maxHorizon]),
                                       scratch: &scratch)
            }
        }
        self.scratch = scratch
        for horizon in 1...maxHorizon {
            let target = (next + horizon - 1) % ring
            for model in models.indices {
                let key = model * maxHorizon + horizon - 1
                pending[key * ring + target] = forecasts[key]
            }
            let (combined, model) = combine(horizon: horizon)
            pendingCombined[(horizon - 1) * ring + target] = combined
            pendingCombinedModel[(horizon - 1) * ring + target] = model
            pendingNetwork[(horizon - 1) * ring + target] = .nan
            for level in IntervalForecast.levels.indices {
                let key = (level * maxHorizon + horizon - 1) * ring + target
                pendingNetworkLower[key] = .nan
                pendingNetworkUpper[key] = .nan
            }
        }
        return anySettled
    }

    @inline(__always) private static func smooth(_ average: inout Double, _ error: Double, _ decay: Double) {
        average = average.isNaN ? error : decay * average + (1 - decay) * error
    }

    /// Scores the network's intervals for `slot` and moves each level by adaptive conformal inference.
    private mutating func scoreNetworkIntervals(_ value: Double, slot: Int) {
        let maxHorizon = configuration.maxHorizon
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

    /// The network's forecasts of the coming slots, per horizon 1...maxHorizon: its median and,
    /// per interval level, the ends of its central interval.
    public mutating func receiveNetwork(median: (Int) -> Double, lower: (_ level: Int, _ horizon: Int) -> Double,
                                        upper: (_ level: Int, _ horizon: Int) -> Double) {
        let maxHorizon = configuration.maxHorizon
        let next = history.count
        for horizon in 1...maxHorizon {
            let target = (next + horizon - 1) % ring
            pendingNetwork[(horizon - 1) * ring + target] = median(horizon)
            for level in IntervalForecast.levels.indices {
                let key = (level * maxHorizon + horizon - 1) * ring + target
                pendingNetworkLower[key] = lower(level, horizon)
                pendingNetworkUpper[key] = upper(level, horizon)
            }
        }
    }

    /// Picks, per horizon, the point for the coming slots: the network's median where it
    /// forecast and its recent error is below the combined baselines', else the combination.
    public mutating func choose() {
        let maxHorizon = configuration.maxHorizon
        let next = history.count
        for horizon in 1...maxHorizon {
            let key = (horizon - 1) * ring + (next + horizon - 1) % ring
            let network = pendingNetwork[key]
            let useNetwork: Bool
            if network.isNaN {
                useNetwork = false
            } else if pendingCombined[key].isNaN {
                useNetwork = true
            } else {
                // Both errors are scored on the same slots; before any, the network goes first.
                let n = networkError[horizon - 1], c = combinedError[horizon - 1]
                useNetwork = (n.isNaN ? .infinity : n) <= (c.isNaN ? .infinity : c)
            }
            pendingChosen[key] = useNetwork ? network : pendingCombined[key]
            pendingChosenModel[key] = useNetwork ? models.count : pendingCombinedModel[key]
        }
    }

    /// Conformalised quantile regression: the network's interval ends at `horizon`, each widened
    /// by the conformal quantile of its recent conformity scores, relative to `point`; nil when
    /// the network has no interval for that slot or too few scores.
    func networkBounds(horizon: Int, point: Double, scratch: inout [Double]) -> (lower: [Double], upper: [Double])? {
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
    /// from (for the combined baselines, the best of them).
    public func point(horizon: Int) -> (value: Double, model: String) {
        let key = (horizon - 1) * ring + (history.count + horizon - 1) % ring
        let model = pendingChosenModel[key]
        if model < 0 { return (.nan, "none") }
        return (pendingChosen[key], model == models.count ? networkName : models[model].name)
    }

    /// The median of the latest forecasts of the `combineBest` models with the lowest recent
    /// error at `horizon` (models never scored rank last), and the best model's index.
    private mutating func combine(horizon: Int) -> (value: Double, model: Int) {
        let maxHorizon = configuration.maxHorizon
        let wanted = max(1, configuration.combineBest.isEmpty ? 1 : configuration.combineBest[min(horizon, configuration.combineBest.count) - 1])
        // The `wanted` best by (error, index), kept in order by insertion: no sort of the whole bank.
        ranked.removeAll(keepingCapacity: true)
        for model in models.indices {
            let key = model * maxHorizon + horizon - 1
            guard !forecasts[key].isNaN else { continue }
            let error = recentError[key].isNaN ? Double.infinity : recentError[key]
            if ranked.count == wanted, !(error < ranked[wanted - 1].error) { continue }
            if ranked.count == wanted { ranked.removeLast() }
            var position = ranked.count
            while position > 0 && error < ranked[position - 1].error { position -= 1 }
            ranked.insert((error, model), at: position)
        }
        guard !ranked.isEmpty else { return (.nan, -1) }
        scratch.removeAll(keepingCapacity: true)
        for entry in ranked { scratch.append(forecasts[entry.model * maxHorizon + horizon - 1]) }
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
