/// A forecast of one slot: the point and central prediction intervals at `levels`.
public struct IntervalForecast: Sendable, Equatable {
    /// Nominal coverage of each interval, ascending: 0.8, 0.9, 0.95.
    public static let levels: [Double] = [0.8, 0.9, 0.95]

    public var point: Double
    /// Lower and upper ends, indexed like `levels`; nested (wider levels contain narrower).
    public var lower: [Double]
    public var upper: [Double]
    /// The model whose point this is.
    public var model: String

    public init(point: Double, lower: [Double], upper: [Double], model: String) {
        self.point = point
        self.lower = lower
        self.upper = upper
        self.model = model
    }
}
