/// Every tunable of the forecasting engine, with its default and unit. Spans are set in
/// seconds; `cadence` counts them in slots of `interval`.
public struct ForecastConfiguration: Sendable, Equatable {
    /// Seconds per slot of the series fed.
    public var interval = 300
    /// How far ahead forecasts reach, each rounded to a whole number of slots (default every 5
    /// minutes to 30: slots 1...6 at 300 s, 5, 11, 16, 21, 26, 32 at 57 s). Only these are
    /// forecast and scored: a 10-second series keeps 6 horizons, not 180.
    public var horizonSeconds = [300, 600, 900, 1_200, 1_500, 1_800]
    /// The horizons forecasts are reported and scored at: 5, 15 and 30 minutes (PSF-1's and
    /// PSF-G's, and `GET /prediction`'s default).
    public static let reportedHorizonSeconds = [300, 900, 1_800]
    /// History each series keeps (8 days): a week back for the network's context
    /// (`NetworkFeatures.reach`) and five days for the daily seasonal median.
    public var historySeconds = 8 * 86_400
    /// Half-life of the recent error by which each series picks its models per horizon
    /// (3 days; on the development set 8 hours and a day did worse at 15 and 30 minutes).
    public var selectionHalfLifeSeconds = 259_200.0
    /// Per horizon (index 0 = the first), the point is the median of the forecasts of this many
    /// models with the lowest recent error there (1 = the best alone). At 5 minutes the best
    /// model is clearly best; further ahead combining three lowered MASE on the development set.
    /// Horizons beyond the list use its last entry.
    public var combineBest = [1, 3]
    /// Half-life of the recent error by which each series chooses between the network and the
    /// combined baselines per horizon (a day: on the development set it beat 3 days at 5
    /// minutes for both resources).
    public var choiceHalfLifeSeconds = 86_400.0
    /// Span of the residuals per horizon that calibrate a series' intervals (a day: on the
    /// development set a day's window gave lower MSIS90 than 2 or 7 days, at nominal coverage).
    /// Residuals are kept one per `Cadence.stride` slots: 288 a day at any interval.
    public var calibrationSeconds = 86_400
    /// Span of the conformity scores per level and horizon that calibrate the network's
    /// intervals (3 days: on the development set MSIS90 fell by 1–2% against one day).
    public var networkCalibrationSeconds = 259_200
    /// Step of adaptive conformal inference (Gibbs and Candès 2021) on the network's intervals:
    /// how far each miss or hit moves the level they are calibrated to.
    public var adaptationRate = 0.005
    /// History of residuals a series needs before its own calibrate its intervals; until then
    /// the pooled residuals of all series, scaled to this series, do (a day).
    public var minimumOwnSeconds = 86_400
    /// Residuals per horizon in the pool shared by all series.
    public var pooledWindow = 50_000
    /// Smallest scale a series is normalised by (cores or GiB), as PSF-1 floors its MASE scale.
    public var scaleFloor = 0.01

    public init() {}

    public var cadence: Cadence { Cadence(interval: interval) }
    /// The forecast horizons in slots, ascending and distinct.
    public var horizons: [Int] { Array(Set(horizonSeconds.map(cadence.slots))).sorted() }
    public var maxHorizon: Int { horizons.last ?? 1 }
    public var historySlots: Int { cadence.slots(historySeconds) }
    public var selectionHalfLife: Double { cadence.fraction(selectionHalfLifeSeconds) }
    public var choiceHalfLife: Double { cadence.fraction(choiceHalfLifeSeconds) }
    /// Residuals kept per horizon, one per `stride` slots.
    public var calibrationWindow: Int { Self.count(calibrationSeconds, cadence) }
    public var networkCalibrationWindow: Int { Self.count(networkCalibrationSeconds, cadence) }
    public var minimumOwnResiduals: Int { Self.count(minimumOwnSeconds, cadence) }

    private static func count(_ seconds: Int, _ cadence: Cadence) -> Int {
        max(1, cadence.slots(seconds) / cadence.stride)
    }

    /// Why the configuration cannot forecast, if it cannot.
    public var problem: String? {
        if interval <= 0 { return "the interval must be a positive number of seconds, not \(interval)" }
        if horizonSeconds.isEmpty || horizonSeconds.contains(where: { $0 <= 0 }) { return "the horizons must be positive spans, not \(horizonSeconds)" }
        if selectionHalfLifeSeconds <= 0 || choiceHalfLifeSeconds <= 0 || calibrationSeconds <= 0 || networkCalibrationSeconds <= 0 {
            return "the calibration spans and half-lives must be positive"
        }
        if !(adaptationRate >= 0 && adaptationRate < 1) { return "the adaptation rate must lie within 0..<1, not \(adaptationRate)" }
        if historySlots <= maxHorizon { return "the history (\(historySeconds) s) must reach beyond the longest horizon" }
        return nil
    }
}
