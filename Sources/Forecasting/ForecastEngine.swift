/// Forecasts many series online: each series keeps its own baselines, model choice and
/// calibration; global networks (one per resource, say) forecast all the series they serve in
/// one batch per slot, reading each series together with its partner (the instance's other
/// resource) and its allocation; a shared pool of scaled residuals calibrates series with
/// little history.
///
/// This is the one code path for forecasting: the backtest drives it slot by slot exactly
/// as the service does, so what is measured is what runs.
public struct ForecastEngine: Sendable {
    public let configuration: ForecastConfiguration
    /// Absolute slot (epoch seconds / interval) of the engine's first slot.
    public let firstSlot: Int64
    public private(set) var series: [SeriesForecaster]
    /// The forecast horizons in slots (`configuration.horizons`).
    public let horizons: [Int]
    /// Slots observed so far (every series is fed every slot).
    public private(set) var slotCount = 0
    /// Per series: the series of the same instance's other resource, or -1.
    private var partner: [Int]
    /// Per series: the index into `networks` of the network serving it, or -1.
    private var networkOf: [Int]
    /// Per series: its allocation in the last slot, NaN when unknown.
    private var allocation: [Double]
    private var networks: [NetworkForecaster?] = []
    /// Per network: the quantile heads of the median and of each level's ends.
    private var heads: [(median: Int, levels: [(lower: Int, upper: Int)])] = []
    /// Residuals of the series of each pool divided by their scale, `[pool][k]`: series of a
    /// kind (usage of cpu and memory, say) share one; another kind (GPUs, idle for most
    /// instances) keeps its own so that its errors do not narrow theirs.
    private var pooled: [[ResidualWindow]] = []
    /// Per series: its pool.
    private var poolOf: [Int]
    /// Each pool's bounds per horizon for the slot observed last (the same for every series
    /// before its scale): each is a selection over up to `pooledWindow` residuals.
    private var pooledBounds: [[(lower: [Double], upper: [Double])?]] = []
    private var settled: [Double] = []
    private var scratch: [Double] = []
    private var rows: [Int] = []
    /// Pooled residuals needed before they calibrate (`configuration.minimumOwnResiduals`, at least 1).
    private let minimumPooled: Int

    /// `models(index)` gives series `index` its own baselines (default: the standard ones).
    public init(seriesCount: Int = 0, configuration: ForecastConfiguration = ForecastConfiguration(), firstSlot: Int64 = 0,
                models: ((Int) -> [any Forecaster])? = nil) {
        precondition(configuration.problem == nil, configuration.problem ?? "")
        self.configuration = configuration
        self.firstSlot = firstSlot
        horizons = configuration.horizons
        minimumPooled = max(1, configuration.minimumOwnResiduals)
        series = (0..<seriesCount).map { SeriesForecaster(configuration: configuration, models: models?($0)) }
        partner = Array(repeating: -1, count: seriesCount)
        networkOf = partner
        allocation = Array(repeating: .nan, count: seriesCount)
        poolOf = Array(repeating: 0, count: seriesCount)
        addPool(0)
    }

    /// Makes pools up to `index` exist.
    private mutating func addPool(_ index: Int) {
        while pooled.count <= index {
            pooled.append(horizons.map { _ in ResidualWindow(capacity: configuration.pooledWindow, keepsSorted: false) })
            pooledBounds.append(Array(repeating: nil, count: horizons.count))
        }
    }

    /// Why a network cannot be installed.
    public struct Unsuitable: Error, CustomStringConvertible {
        public var description: String
    }

    /// Adds a series (an instance that joined) and returns its index; it is fed from the next
    /// slot on. `pool` is the pool of residuals it shares with series of its kind.
    public mutating func addSeries(models: [any Forecaster]? = nil, pool: Int = 0) -> Int {
        series.append(SeriesForecaster(configuration: configuration, models: models))
        partner.append(-1)
        networkOf.append(-1)
        allocation.append(.nan)
        poolOf.append(pool)
        addPool(pool)
        return series.count - 1
    }

    /// Makes `a` and `b` each other's partner: the two resources of one instance, added in the
    /// same slot so that their histories line up.
    public mutating func pair(_ a: Int, _ b: Int) {
        precondition(series[a].history.count == series[b].history.count, "partners must have been fed the same slots")
        partner[a] = b
        partner[b] = a
    }

    /// Installs (or replaces) network number `index` and has it serve `servedSeries`. A network
    /// active already (`activeFrom` reached) forecasts at once from the history held, so that a
    /// service that restarts or retrains forecasts with it before the next slot comes. It needs
    /// a median head and both ends of every interval level.
    public mutating func install(_ network: NetworkForecaster, as index: Int, serving servedSeries: [Int]) throws(Unsuitable) {
        let quantiles = network.network.shape.quantiles
        let shape = network.network.shape
        guard shape.interval == configuration.interval, shape.horizonSlots == horizons else {
            throw Unsuitable(description: "the network reads \(shape.interval)-second slots and forecasts \(shape.horizonSlots) slots ahead; "
                             + "the engine has \(configuration.interval)-second slots and forecasts \(horizons)")
        }
        var levels: [(lower: Int, upper: Int)] = []
        for level in IntervalForecast.levels {
            guard let lower = quantiles.firstIndex(where: { abs($0 - (1 - level) / 2) < 1e-9 }),
                  let upper = quantiles.firstIndex(where: { abs($0 - (1 + level) / 2) < 1e-9 }) else {
                throw Unsuitable(description: "the network has no quantile heads for the \(level) interval (it has \(quantiles))")
            }
            levels.append((lower, upper))
        }
        while networks.count <= index {
            networks.append(nil)
            heads.append((0, []))
        }
        networks[index] = network
        heads[index] = (network.medianIndex, levels)
        for i in servedSeries {
            networkOf[i] = index
            series[i].networkName = network.name
        }
        guard slotCount > 0, slotCount >= network.activeFrom else { return }
        runNetwork(index)
        for i in servedSeries { series[i].choose() }
    }

    /// Has network `index` (installed) serve series `i` as well: an instance that joined later.
    public mutating func serve(_ i: Int, byNetwork index: Int) {
        precondition(index < networks.count && networks[index] != nil, "no network installed as \(index)")
        networkOf[i] = index
        series[i].networkName = networks[index]!.name
    }

    /// The network installed as `index`, if any.
    public func network(_ index: Int) -> NetworkForecaster? {
        index < networks.count ? networks[index] : nil
    }

    /// Takes the next slot of every series, `values[i]` for series `i` (NaN when missing), and
    /// optionally each one's allocation in that slot.
    public mutating func observe(_ values: [Double], allocations: [Double]? = nil) {
        precondition(values.count == series.count, "one value per series: \(values.count) for \(series.count)")
        for index in series.indices {
            let settledAny = series[index].observe(values[index], settled: &settled)
            if let allocations { allocation[index] = allocations[index] }
            guard settledAny, let scale = series[index].scale else { continue }
            for (offset, residual) in settled.enumerated() where !residual.isNaN {
                pooled[poolOf[index]][offset].append(residual / scale)
            }
        }
        slotCount += 1
        for pool in pooledBounds.indices {
            for k in pooledBounds[pool].indices { pooledBounds[pool][k] = nil }
        }
        for index in networks.indices { runNetwork(index) }
        for index in series.indices { series[index].choose() }
    }

    /// Runs network `index` on every series it serves whose last slot is observed.
    private mutating func runNetwork(_ index: Int) {
        guard var network = networks[index], slotCount >= network.activeFrom else { return }
        networks[index] = nil // keep `network` uniquely referenced while it runs
        network.beginBatch()
        rows.removeAll(keepingCapacity: true)
        let reach = network.features.reach
        let firstTarget = firstSlot + Int64(slotCount)
        for i in series.indices where networkOf[i] == index {
            let own = series[i].history
            let added = own.withRecent(reach) { values in
                let window = NetworkFeatures.Window(values: values, scale: series[i].scale ?? configuration.scaleFloor)
                guard partner[i] >= 0 else {
                    return network.add(series: window, other: nil, allocation: allocation[i], firstTarget: firstTarget)
                }
                let other = series[partner[i]]
                return other.history.withRecent(reach) { otherValues in
                    network.add(series: window, other: .init(values: otherValues, scale: other.scale ?? configuration.scaleFloor),
                                allocation: allocation[i], firstTarget: firstTarget)
                }
            }
            if added { rows.append(i) }
        }
        let (median, levels) = heads[index]
        let Q = network.network.shape.quantiles.count
        network.run { row, q in
            series[rows[row]].receiveNetwork(median: { q[$0 * Q + median] },
                                             lower: { level, k in q[k * Q + levels[level].lower] },
                                             upper: { level, k in q[k * Q + levels[level].upper] })
        }
        networks[index] = network
    }

    /// The position in `horizons` of the first horizon at least `slots` ahead (the last when
    /// none is): the forecast that covers a span of `slots`.
    public func horizonPosition(covering slots: Int) -> Int {
        horizons.firstIndex { $0 >= slots } ?? horizons.count - 1
    }

    /// The forecast of series `index`, `horizon` slots after its last observed slot (one of
    /// `horizons`), with intervals from the network's quantile heads conformalised on their recent
    /// scores when the network forecast this slot, else from the series' own recent residuals,
    /// else from the pool scaled to it, else (nothing known yet) wide ones around the point.
    /// Usage is never negative, so no bound is below 0.
    public mutating func forecast(series index: Int, horizon: Int) -> IntervalForecast {
        guard let k = horizons.firstIndex(of: horizon) else { preconditionFailure("horizon \(horizon) is not one of \(horizons)") }
        return forecast(series: index, k: k)
    }

    /// The forecast of series `index` at the horizon at position `k` of `horizons`.
    public mutating func forecast(series index: Int, k: Int) -> IntervalForecast {
        let forecaster = series[index]
        var (point, model) = forecaster.point(k: k)
        if point.isNaN { (point, model) = (0, "none") }
        point = max(0, point)
        var bounds = forecaster.networkBounds(k: k, point: point, scratch: &scratch)
            ?? forecaster.ownBounds(k: k, scratch: &scratch)
        let pool = poolOf[index]
        if bounds == nil, pooled[pool][k].count >= minimumPooled {
            let scale = forecaster.scale ?? max(configuration.scaleFloor, point)
            let unit = pooledBounds[pool][k] ?? pooled[pool][k].bounds(levels: IntervalForecast.levels, scratch: &scratch)
            pooledBounds[pool][k] = unit
            bounds = (unit.lower.map { $0 * scale }, unit.upper.map { $0 * scale })
        }
        let (lowerResidual, upperResidual) = bounds ?? Self.coldStartBounds(point: point, scale: forecaster.scale)
        return IntervalForecast(
            point: point,
            lower: lowerResidual.map { max(0, point + $0) },
            upper: upperResidual.map { max(0, point + $0) },
            model: model)
    }

    /// With no residuals at all: symmetric bounds of 2, 3 and 4 times the larger of the point
    /// and the scale, wide enough to be honest about knowing nothing yet.
    static func coldStartBounds(point: Double, scale: Double?) -> (lower: [Double], upper: [Double]) {
        let unit = max(abs(point), scale ?? 0, 0.01)
        let widths = [2.0, 3.0, 4.0].map { $0 * unit }
        return (widths.map { -$0 }, widths)
    }
}
