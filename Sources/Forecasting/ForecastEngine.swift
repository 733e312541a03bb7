/// Forecasts many series online: each series keeps its own models, model choice and
/// calibration; a shared pool of scaled residuals calibrates series with little history.
///
/// This is the one code path for forecasting: the backtest drives it slot by slot exactly
/// as the service does, so what is measured is what runs.
public struct ForecastEngine: Sendable {
    public let configuration: ForecastConfiguration
    public private(set) var series: [SeriesForecaster]
    /// Residuals of all series divided by their scale, per horizon.
    private var pooled: [ResidualWindow]
    private var settled: [Double] = []
    private var scratch: [Double] = []

    /// `models(index)` gives series `index` its own model bank (default: the standard baselines).
    public init(seriesCount: Int, configuration: ForecastConfiguration = ForecastConfiguration(), models: (Int) -> [any Forecaster] = { _ in standardBaselines() }) {
        self.configuration = configuration
        series = (0..<seriesCount).map { SeriesForecaster(configuration: configuration, models: models($0)) }
        pooled = (0..<configuration.maxHorizon).map { _ in ResidualWindow(capacity: configuration.pooledWindow) }
    }

    /// Adds a series (an instance that joined the pool) and returns its index. It is fed
    /// from the next slot on.
    public mutating func addSeries(models: [any Forecaster] = standardBaselines()) -> Int {
        series.append(SeriesForecaster(configuration: configuration, models: models))
        return series.count - 1
    }

    /// Takes the next slot of series `index` (NaN when missing). Every series must be fed
    /// every slot, in time order.
    public mutating func observe(series index: Int, value: Double) {
        let settledAny = series[index].observe(value, settled: &settled)
        guard settledAny, let scale = series[index].scale else { return }
        for (offset, residual) in settled.enumerated() where !residual.isNaN {
            pooled[offset].append(residual / scale)
        }
    }

    /// The forecast of series `index`, `horizon` slots (1...maxHorizon) after its last observed
    /// slot, with intervals from the network's quantile heads conformalised on their recent
    /// scores when the series has a network forecasting this slot, else from its own recent residuals, else from the pool scaled to it,
    /// else (nothing known yet) wide ones around the point. Usage is never negative, so no
    /// bound is below 0.
    public mutating func forecast(series index: Int, horizon: Int) -> IntervalForecast {
        precondition(horizon >= 1 && horizon <= configuration.maxHorizon, "horizon \(horizon) outside 1...\(configuration.maxHorizon)")
        let forecaster = series[index]
        var (point, model) = forecaster.point(horizon: horizon)
        if point.isNaN { (point, model) = (0, "none") }
        point = max(0, point)
        var bounds = forecaster.networkBounds(horizon: horizon, point: point, scratch: &scratch)
            ?? forecaster.ownBounds(horizon: horizon, scratch: &scratch)
        if bounds == nil, pooled[horizon - 1].count >= max(1, configuration.minimumOwnResiduals) {
            let scale = forecaster.scale ?? max(configuration.scaleFloor, point)
            let unit = pooled[horizon - 1].bounds(levels: IntervalForecast.levels, scratch: &scratch)
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
