/// A global recurrent network as one of a series' models: it reads the last `steps` slots,
/// normalised by the series' own anchor and scale, and forecasts the median of each horizon.
public struct NetworkForecaster: Forecaster {
    public let name: String
    public let network: RecurrentNetwork
    public let steps: Int
    /// Absolute 5-minute slot of the series' first observed slot (epoch seconds / 300).
    public let startSlot: Int64
    /// Slots observed before the network starts forecasting (its forecasts are NaN until
    /// then, so the model selection does not score it).
    public let activeFrom: Int
    public let scaleFloor: Double
    private let medianIndex: Int
    private var differenceSum = 0.0
    private var differenceCount = 0
    private var previous = Double.nan

    /// Why a network cannot serve as a forecaster.
    public struct Unsuitable: Error, CustomStringConvertible {
        public var description: String
    }

    /// Checks that `network` reads `NetworkFeatures` and has a median head.
    public static func check(_ network: RecurrentNetwork) throws(Unsuitable) {
        guard network.shape.quantiles.contains(0.5) else {
            throw Unsuitable(description: "the network has no 0.5 quantile head (it has \(network.shape.quantiles))")
        }
        guard network.shape.features == NetworkFeatures.count else {
            throw Unsuitable(description: "the network reads \(network.shape.features) features per step; the forecaster gives \(NetworkFeatures.count)")
        }
    }

    public init(network: RecurrentNetwork, steps: Int, startSlot: Int64, activeFrom: Int = 0, scaleFloor: Double = 0.01) {
        guard let median = network.shape.quantiles.firstIndex(of: 0.5) else { preconditionFailure("the network needs a 0.5 quantile head") }
        precondition(network.shape.features == NetworkFeatures.count, "check(_:) the network first")
        self.network = network
        self.steps = steps
        self.startSlot = startSlot
        self.activeFrom = activeFrom
        self.scaleFloor = scaleFloor
        medianIndex = median
        name = network.shape.cell.rawValue
    }

    public var scale: Double { differenceCount > 0 ? max(scaleFloor, differenceSum / Double(differenceCount)) : scaleFloor }

    public mutating func observe(_ value: Double, history: RecentHistory) {
        if !value.isNaN, !previous.isNaN {
            differenceSum += abs(value - previous)
            differenceCount += 1
        }
        previous = value
    }

    public func forecast(_ history: RecentHistory, into output: inout ArraySlice<Double>, scratch: inout [Double]) {
        guard let prediction = quantileForecast(history, scratch: &scratch) else { return output.fill(.nan) }
        let quantiles = network.shape.quantiles.count
        for (offset, index) in output.indices.enumerated() {
            output[index] = offset < network.shape.horizons ? prediction[offset * quantiles + medianIndex] : .nan
        }
    }

    /// Every quantile head's forecast in the series' own units, [horizon][quantile] (at least
    /// 0), or nil when the network does not forecast from this history.
    public func quantileForecast(_ history: RecentHistory, scratch: inout [Double]) -> [Double]? {
        let anchor = history.lastPresent
        // Trained only on windows whose last slot is observed: forecast only from such windows.
        guard history.count >= activeFrom, !anchor.isNaN, history.lastPresentAge == 1 else { return nil }
        let scale = self.scale
        NetworkFeatures.window(steps: steps, lastSlot: startSlot + Int64(history.count - 1), anchor: anchor, scale: scale,
                               value: { history[lag: $0] }, into: &scratch)
        return network.forward(scratch, batch: 1, steps: steps).output.map { max(0, anchor + $0 * scale) }
    }
}
