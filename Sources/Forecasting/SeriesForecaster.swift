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
///
/// Horizons are the configuration's (`ForecastConfiguration.horizons`), in slots; arrays
/// indexed "per horizon" are indexed by the horizon's position `k` in that list.
public struct SeriesForecaster: Sendable {
    public let configuration: ForecastConfiguration
    public private(set) var history: RecentHistory
    /// The forecast horizons in slots, ascending.
    public let horizons: [Int]
    private var models: [any Forecaster]
    /// Exponentially weighted mean absolute error, [model * H + k].
    private var recentError: [Double]
    /// Forecasts awaiting their slot: [(model * H + k) * ring + slot % ring].
    private var pending: [Double]
    /// The latest forecast of every model: [model * H + k].
    private var forecasts: [Double]
    private var ranked: [(error: Double, model: Int)] = []
    private let ring: Int
    /// Residuals and conformity scores are kept for one slot in `stride`.
    private let stride: Int
    /// Residuals a window needs before it calibrates (`configuration.minimumOwnResiduals`, at least 1).
    private let minimumOwn: Int
    private let decay: Double
    private let choiceDecay: Double
    /// The baselines' combination awaiting its slot, and the best baseline behind it:
    /// [k * ring + slot % ring].
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
    /// The network's interval ends awaiting their slot: [(level * H + k) * ring + slot % ring].
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

    public init(configuration: ForecastConfiguration = ForecastConfiguration(), models: [any Forecaster]? = nil) {
        let models = models ?? standardBaselines(configuration.cadence)
        precondition(!models.isEmpty)
        let horizons = configuration.horizons, levels = IntervalForecast.levels.count
        let H = horizons.count
        self.configuration = configuration
        self.horizons = horizons
        self.models = models
        history = RecentHistory(capacity: configuration.historySlots)
        ring = horizons.last! + 1
        stride = configuration.cadence.stride
        minimumOwn = max(1, configuration.minimumOwnResiduals)
        recentError = [Double](repeating: .nan, count: models.count * H)
        pending = [Double](repeating: .nan, count: models.count * H * ring)
        forecasts = [Double](repeating: .nan, count: models.count * H)
        decay = exp2(-1 / configuration.selectionHalfLife)
        choiceDecay = exp2(-1 / configuration.choiceHalfLife)
        pendingCombined = [Double](repeating: .nan, count: H * ring)
        pendingCombinedModel = [Int](repeating: -1, count: H * ring)
        pendingNetwork = pendingCombined
        combinedError = [Double](repeating: .nan, count: H)
        networkError = combinedError
        pendingChosen = pendingCombined
        pendingChosenModel = pendingCombinedModel
        residuals = (0..<H).map { _ in ResidualWindow(capacity: configuration.calibrationWindow) }
        scratch.reserveCapacity(configuration.historySlots)
        pendingNetworkLower = [Double](repeating: .nan, count: levels * H * ring)
        pendingNetworkUpper = pendingNetworkLower
        networkScores = (0..<(levels * H)).map { _ in ResidualWindow(capacity: configuration.networkCalibrationWindow) }
        networkLevel = IntervalForecast.levels.flatMap { Array(repeating: $0, count: H) }
    }

    public var modelNames: [String] { models.map(\.name) }
    /// Residuals kept at the horizon at position `k`.
    public func residualCount(k: Int) -> Int { residuals[k].count }

    /// The series' scale (mean absolute step), floored; nil before two consecutive samples.
    public var scale: Double? {
        differenceCount > 0 ? max(configuration.scaleFloor, differenceSum / Double(differenceCount)) : nil
    }

    /// Takes the next slot's value (NaN when missing): scores what was forecast for it, feeds
    /// the baselines and combines their forecasts of the coming slots. Writes into `settled`
    /// the residuals (actual minus chosen point) this slot settled and keeps, per horizon, NaN
    /// where none; returns whether there was any.
    @discardableResult
    public mutating func observe(_ value: Double, settled: inout [Double]) -> Bool {
        let H = horizons.count
        let slot = history.count
        settled.removeAll(keepingCapacity: true)
        var anySettled = false
        if !value.isNaN {
            let previous = history[lag: 1]
            if !previous.isNaN {
                differenceSum += abs(value - previous)
                differenceCount += 1
            }
            let keeps = slot % stride == 0
            if keeps { scoreNetworkIntervals(value, slot: slot) }
            for k in 0..<H {
                let key = k * ring + slot % ring
                let chosen = pendingChosen[key]
                if chosen.isNaN || !keeps {
                    settled.append(.nan)
                } else {
                    residuals[k].append(value - chosen)
                    settled.append(value - chosen)
                    anySettled = true
                }
                let combined = pendingCombined[key], network = pendingNetwork[key]
                if !combined.isNaN && !network.isNaN {
                    Self.smooth(&combinedError[k], abs(value - combined), choiceDecay)
                    Self.smooth(&networkError[k], abs(value - network), choiceDecay)
                }
                for model in models.indices {
                    let forecast = pending[(model * H + k) * ring + slot % ring]
                    guard !forecast.isNaN else { continue }
                    Self.smooth(&recentError[model * H + k], abs(value - forecast), decay)
                }
            }
        }
        history.append(value)
        for model in models.indices { models[model].observe(value, history: history) }
        // Forecast the coming slots now, to score them when they arrive.
        let next = slot + 1
        // Written in place: locals, so that the closure touches no other part of `self`.
        let (models, history, horizons) = (self.models, self.history, self.horizons)
        var scratch: [Double] = []
        swap(&scratch, &self.scratch) // moved, not shared: no copy when it is written
        forecasts.withUnsafeMutableBufferPointer { all in
            for model in models.indices {
                models[model].forecast(history, horizons: horizons, into: UnsafeMutableBufferPointer(rebasing: all[model * H..<(model + 1) * H]),
                                       scratch: &scratch)
            }
        }
        self.scratch = scratch
        for k in 0..<H {
            let target = (next + horizons[k] - 1) % ring
            for model in models.indices {
                let key = model * H + k
                pending[key * ring + target] = forecasts[key]
            }
            let (combined, model) = combine(k)
            pendingCombined[k * ring + target] = combined
            pendingCombinedModel[k * ring + target] = model
            pendingNetwork[k * ring + target] = .nan
            for level in IntervalForecast.levels.indices {
                let key = (level * H + k) * ring + target
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
        let H = horizons.count
        for key in networkScores.indices {
            let lower = pendingNetworkLower[key * ring + slot % ring], upper = pendingNetworkUpper[key * ring + slot % ring]
            guard !lower.isNaN else { continue }
            let score = max(lower - value, value - upper)
            if networkScores[key].count >= minimumOwn {
                let widen = networkScores[key].conformalQuantile(level: networkLevel[key], scratch: &scratch)
                let miss = score > widen ? 1.0 : 0.0
                let nominal = IntervalForecast.levels[key / H]
                networkLevel[key] = min(0.999, max(0.5, networkLevel[key] + configuration.adaptationRate * (miss - (1 - nominal))))
            }
            networkScores[key].append(score)
        }
    }

    /// The network's forecasts of the coming slots, per horizon position k: its median and,
    /// per interval level, the ends of its central interval.
    public mutating func receiveNetwork(median: (_ k: Int) -> Double, lower: (_ level: Int, _ k: Int) -> Double,
                                        upper: (_ level: Int, _ k: Int) -> Double) {
        let H = horizons.count
        let next = history.count
        for k in 0..<H {
            let target = (next + horizons[k] - 1) % ring
            pendingNetwork[k * ring + target] = median(k)
            for level in IntervalForecast.levels.indices {
                let key = (level * H + k) * ring + target
                pendingNetworkLower[key] = lower(level, k)
                pendingNetworkUpper[key] = upper(level, k)
            }
        }
    }

    /// Picks, per horizon, the point for the coming slots: the network's median where it
    /// forecast and its recent error is below the combined baselines', else the combination.
    public mutating func choose() {
        let next = history.count
        for k in horizons.indices {
            let key = k * ring + (next + horizons[k] - 1) % ring
            let network = pendingNetwork[key]
            let useNetwork: Bool
            if network.isNaN {
                useNetwork = false
            } else if pendingCombined[key].isNaN {
                useNetwork = true
            } else {
                // Both errors are scored on the same slots; before any, the network goes first.
                let n = networkError[k], c = combinedError[k]
                useNetwork = (n.isNaN ? .infinity : n) <= (c.isNaN ? .infinity : c)
            }
            pendingChosen[key] = useNetwork ? network : pendingCombined[key]
            pendingChosenModel[key] = useNetwork ? models.count : pendingCombinedModel[key]
        }
    }

    /// Conformalised quantile regression: the network's interval ends at the horizon at
    /// position `k`, each widened by the conformal quantile of its recent conformity scores,
    /// relative to `point`; nil when the network has no interval for that slot or too few scores.
    func networkBounds(k: Int, point: Double, scratch: inout [Double]) -> (lower: [Double], upper: [Double])? {
        let H = horizons.count
        var lower: [Double] = [], upper: [Double] = []
        for level in IntervalForecast.levels.indices {
            let key = level * H + k
            let window = networkScores[key]
            let slot = key * ring + (history.count + horizons[k] - 1) % ring
            let low = pendingNetworkLower[slot], high = pendingNetworkUpper[slot]
            guard !low.isNaN, window.count >= minimumOwn else { return nil }
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

    /// The point forecast at the horizon at position `k` after the last observed slot and the
    /// model it comes from (for the combined baselines, the best of them).
    public func point(k: Int) -> (value: Double, model: String) {
        let key = k * ring + (history.count + horizons[k] - 1) % ring
        let model = pendingChosenModel[key]
        if model < 0 { return (.nan, "none") }
        return (pendingChosen[key], model == models.count ? networkName : models[model].name)
    }

    /// The network's median at the horizon at position `k` after the last observed slot, chosen
    /// or not; NaN when it made none.
    public func networkPoint(k: Int) -> Double {
        pendingNetwork[k * ring + (history.count + horizons[k] - 1) % ring]
    }

    /// The median of the latest forecasts of the `combineBest` models with the lowest recent
    /// error at the horizon at position `k` (models never scored rank last), and the best model's index.
    private mutating func combine(_ k: Int) -> (value: Double, model: Int) {
        let H = horizons.count
        let wanted = max(1, configuration.combineBest.isEmpty ? 1 : configuration.combineBest[min(k + 1, configuration.combineBest.count) - 1])
        // The `wanted` best by (error, index), kept in order by insertion: no sort of the whole bank.
        ranked.removeAll(keepingCapacity: true)
        for model in models.indices {
            let key = model * H + k
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
        for entry in ranked { scratch.append(forecasts[entry.model * H + k]) }
        scratch.sort()
        return (medianOfSorted(scratch), ranked[0].model)
    }

    /// Residual quantiles of this series at the horizon at position `k`, or nil with too few
    /// residuals of its own.
    func ownBounds(k: Int, scratch: inout [Double]) -> (lower: [Double], upper: [Double])? {
        let window = residuals[k]
        guard window.count >= minimumOwn else { return nil }
        return window.bounds(levels: IntervalForecast.levels, scratch: &scratch)
    }
}
