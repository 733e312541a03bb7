/// Every tunable of the forecasting engine, with its default and unit.
public struct ForecastConfiguration: Sendable, Equatable {
    /// Forecasts reach this many slots ahead (6 × 5 min = 30 min).
    public var maxHorizon = 6
    /// Slots of history each series keeps (2304 × 5 min = 8 days): a week back for the network's
    /// context (`NetworkFeatures.reach`) and five days for the daily seasonal median.
    public var historySlots = 2304
    /// Half-life, in observed slots, of the recent error by which each series picks its models
    /// per horizon (864 = three days; on the development set 96 and 288 did worse at 15 and 30
    /// minutes).
    public var selectionHalfLife = 864.0
    /// Per horizon (index 0 = 1 step), the point is the median of the forecasts of this many
    /// models with the lowest recent error there (1 = the best alone). One step ahead the
    /// best model is clearly best; further ahead combining three lowered MASE on the
    /// development set. Horizons beyond the list use its last entry.
    public var combineBest = [1, 3]
    /// Half-life, in observed slots, of the recent error by which each series chooses between
    /// the network and the combined baselines per horizon (288 = one day: on the development
    /// set it beat 864 at 5 minutes for both resources).
    public var choiceHalfLife = 288.0
    /// Residuals per horizon that calibrate a series' intervals (288 = one day: on the
    /// development set a day's window gave lower MSIS90 than 2 or 7 days, at nominal coverage).
    public var calibrationWindow = 288
    /// Conformity scores per level and horizon that calibrate the network's intervals (864 =
    /// three days: on the development set MSIS90 fell by 1–2% against one day, at nominal coverage).
    public var networkCalibrationWindow = 864
    /// Step of adaptive conformal inference (Gibbs and Candès 2021) on the network's intervals:
    /// how far each miss or hit moves the level they are calibrated to.
    public var adaptationRate = 0.005
    /// Residuals a series needs before its own calibrate its intervals; until then the
    /// pooled residuals of all series, scaled to this series, do (288 = one day).
    public var minimumOwnResiduals = 288
    /// Residuals per horizon in the pool shared by all series.
    public var pooledWindow = 50_000
    /// Smallest scale a series is normalised by (cores or GiB), as PSF-1 floors its MASE scale.
    public var scaleFloor = 0.01

    public init() {}
}
