/// A global recurrent network forecasting many series at once: each series reads its own
/// window and context (`NetworkFeatures`) in its own anchor and scale, and the batch goes
/// through the network in one pass. Its outputs are every quantile head at every horizon, in
/// the series' units.
///
/// Unlike the per-series baselines (`Forecaster`), one network serves every series of a
/// resource, so it is run by the engine on all of them together, once per slot.
public struct NetworkForecaster: Sendable {
    public let network: RecurrentNetwork
    public var steps: Int { network.shape.steps }
    /// Slots the engine has observed before the network starts forecasting (until then the
    /// model selection does not score it).
    public let activeFrom: Int
    public var name: String { network.shape.cell.rawValue }
    public let medianIndex: Int
    /// The inputs it reads, at the interval and horizons it was trained for.
    public let features: NetworkFeatures

    private var sequence: [Double] = []
    private var context: [Double] = []
    private var anchors: [Double] = []
    private var scales: [Double] = []
    private var pass: RecurrentNetwork.Pass
    private var scratch: [Double] = []

    /// Why a network cannot serve as a forecaster.
    public struct Unsuitable: Error, CustomStringConvertible {
        public var description: String
    }

    /// Checks that `network` reads `NetworkFeatures` and has a median head.
    public static func check(_ network: RecurrentNetwork) throws(Unsuitable) {
        let shape = network.shape
        guard shape.quantiles.contains(0.5) else {
            throw Unsuitable(description: "the network has no 0.5 quantile head (it has \(shape.quantiles))")
        }
        guard zip(shape.quantiles, shape.quantiles.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw Unsuitable(description: "the network's quantile heads \(shape.quantiles) are not in ascending order")
        }
        let context = NetworkFeatures.contextCount(horizons: shape.horizons)
        guard shape.features == NetworkFeatures.stepCount, shape.context == context else {
            throw Unsuitable(description: "the network reads \(shape.features) features per step and \(shape.context) of context; "
                             + "the forecaster gives \(NetworkFeatures.stepCount) and \(context)")
        }
    }

    public init(network: RecurrentNetwork, activeFrom: Int = 0) {
        guard let median = network.shape.quantiles.firstIndex(of: 0.5) else { preconditionFailure("check(_:) the network first") }
        features = NetworkFeatures(cadence: Cadence(interval: network.shape.interval), horizons: network.shape.horizonSlots)
        precondition(network.shape.features == NetworkFeatures.stepCount && network.shape.context == features.contextCount,
                     "check(_:) the network first")
        self.network = network
        self.activeFrom = activeFrom
        medianIndex = median
        pass = RecurrentNetwork.Pass(for: network)
    }

    /// Series added to the batch being built.
    public var batchCount: Int { anchors.count }

    /// Empties the batch.
    public mutating func beginBatch() {
        sequence.removeAll(keepingCapacity: true)
        context.removeAll(keepingCapacity: true)
        anchors.removeAll(keepingCapacity: true)
        scales.removeAll(keepingCapacity: true)
    }

    /// Adds one series to the batch, whose next slot is the absolute slot `firstTarget`; false
    /// (nothing added) when its last slot is missing, since the network was trained only on
    /// windows whose last slot is observed.
    public mutating func add(series: NetworkFeatures.Window, other: NetworkFeatures.Window?, allocation: Double, firstTarget: Int64) -> Bool {
        guard !series[lag: 1].isNaN else { return false }
        let (S, C, steps) = (self.steps * NetworkFeatures.stepCount, features.contextCount, self.steps)
        let row = anchors.count
        sequence.append(contentsOf: repeatElement(0, count: S))
        context.append(contentsOf: repeatElement(0, count: C))
        let anchor = sequence.withUnsafeMutableBufferPointer { s in
            context.withUnsafeMutableBufferPointer { c in
                features.fill(series: series, other: other, allocation: allocation, firstTarget: firstTarget, steps: steps,
                                     sequence: s.baseAddress! + row * S, context: c.baseAddress! + row * C, scratch: &scratch)
            }
        }
        anchors.append(anchor!)
        scales.append(series.scale)
        return true
    }

    /// Runs the batch. `body(row, quantiles)` receives each series' forecasts in its own units,
    /// [horizon][quantile], ascending within each horizon and never below 0.
    public mutating func run(_ body: (_ row: Int, _ quantiles: UnsafeBufferPointer<Double>) -> Void) {
        let batch = anchors.count
        guard batch > 0 else { return }
        network.forward(sequence, context: context, batch: batch, steps: steps, pass: &pass)
        let Q = network.shape.quantiles.count, K = network.shape.outputs
        scratch.resetToZeros(count: K)
        let output = pass.output
        for row in 0..<batch {
            for k in 0..<K { scratch[k] = max(0, anchors[row] + output[row * K + k] * scales[row]) }
            // Monotone rearrangement: crossing heads are sorted, which never raises the pinball loss.
            for h in 0..<network.shape.horizons { scratch[(h * Q)..<((h + 1) * Q)].sort() }
            scratch.withUnsafeBufferPointer { body(row, $0) }
        }
    }
}
