#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PoolCore

/// One series as training input: its values per slot (NaN when missing), and on the same grid
/// the other resource of the same instance and the allocation of this resource, when known.
public struct TrainingSeries: Sendable {
    public var values: [Double]
    public var other: [Double]?
    public var allocation: [Double]?
    public init(values: [Double], other: [Double]? = nil, allocation: [Double]? = nil) {
        self.values = values
        self.other = other
        self.allocation = allocation
    }
}

/// Trains one global network on windows drawn from many series.
public struct NetworkTrainer: Sendable {
    public struct Configuration: Sendable, Equatable {
        public var cell = RecurrentNetwork.Cell.gru
        /// Hidden units of the recurrent layer.
        public var hidden = 32
        /// Units of the head's ReLU layer.
        public var mlp = 64
        /// Strides in each input window (12 = 1 hour); the context reaches a week back.
        public var steps = 12
        /// Seconds per slot of the series, and the slots ahead the network forecasts: those of
        /// the engine it will serve (`adopt`).
        public var interval = 300
        public var horizons = Array(1...6)
        /// The median for the point, and the ends of the 80, 90 and 95% intervals.
        public var quantiles = [0.025, 0.05, 0.1, 0.5, 0.9, 0.95, 0.975]
        /// Training windows drawn per epoch, and epochs (on the development set 8 epochs lowered
        /// MSIS90 at 30 minutes by 5% against 4; about 75 µs of one core per window and epoch).
        public var samples = 500_000
        public var epochs = 8
        public var batch = 256
        /// Peak learning rate: reached after the first 30% of the steps, then annealed to 0 on a cosine.
        public var learningRate = 3e-3
        public var seed: UInt64 = 1
        public var scaleFloor = 0.01
        public init() {}

        /// Takes the interval and horizons of the engine the network will serve.
        public mutating func adopt(_ engine: ForecastConfiguration) {
            interval = engine.interval
            horizons = engine.horizons
        }

        /// The inputs the network reads.
        public var features: NetworkFeatures { NetworkFeatures(cadence: Cadence(interval: interval), horizons: horizons) }
    }

    public let configuration: Configuration

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// A network trained on `series` (slot 0 of every series is the absolute slot `startSlot`
    /// of the configuration's interval), using only slots before `end`. Returns it with the mean training loss of
    /// each epoch; no epochs when no window fits before `end`.
    public func train(series: [TrainingSeries], startSlot: Int64, end: Int) -> (network: RecurrentNetwork, losses: [Double]) {
        let c = configuration
        let features = c.features
        let H = c.horizons.count, last = c.horizons.last!
        var network = RecurrentNetwork(
            shape: .init(cell: c.cell, features: NetworkFeatures.stepCount, context: features.contextCount, hidden: c.hidden,
                         mlp: c.mlp, horizons: H, quantiles: c.quantiles, steps: c.steps, interval: c.interval, horizonSlots: c.horizons),
            seed: c.seed)
        var random = SplitMix64(seed: c.seed &+ 1)
        let scales = series.map { Self.scale(of: $0.values, before: end, floor: c.scaleFloor) }
        let otherScales = series.map { $0.other.map { Self.scale(of: $0, before: end, floor: c.scaleFloor) } ?? c.scaleFloor }
        // Windows whose last slot and first target are observed and whose targets lie before
        // `end`; from a week in when the series is long enough for the whole context.
        var candidates: [(series: Int, last: Int)] = []
        for (index, item) in series.enumerated() {
            let values = item.values
            let limit = min(values.count, end) - last
            let first = limit > 2 * features.reach ? features.reach - 1 : (c.steps - 1) * features.stride
            guard limit > first else { continue }
            for anchor in first..<limit where !values[anchor].isNaN && !values[anchor + c.horizons[0]].isNaN {
                candidates.append((index, anchor))
            }
        }
        guard !candidates.isEmpty else { return (network, []) }
        var optimiser = AdamOptimizer(parameterCount: network.parameters.values.count, learningRate: c.learningRate)
        let loss = PinballLoss(quantiles: c.quantiles)
        let (S, C) = (c.steps * NetworkFeatures.stepCount, features.contextCount)
        var x = [Double](repeating: 0, count: c.batch * S)
        var context = [Double](repeating: 0, count: c.batch * C)
        var y = [Double](repeating: .nan, count: c.batch * H)
        var pass = RecurrentNetwork.Pass(for: network)
        var gradients = network.parameters.zeros()
        var lossGradient: [Double] = []
        var scratch: [Double] = []
        var losses: [Double] = []
        let batches = max(1, c.samples / c.batch)
        let totalSteps = c.epochs * batches
        let warmup = max(1, Int(0.3 * Double(totalSteps)))
        var step = 0
        for _ in 0..<c.epochs {
            var total = 0.0
            for _ in 0..<batches {
                for e in 0..<c.batch {
                    let (index, last) = candidates[Int.random(in: 0..<candidates.count, using: &random)]
                    let item = series[index]
                    let anchor = Self.fill(item, last: last, features: features, scale: scales[index], otherScale: otherScales[index],
                                           startSlot: startSlot, steps: c.steps, example: e, x: &x, context: &context, scratch: &scratch)!
                    for (k, horizon) in c.horizons.enumerated() {
                        let target = item.values[last + horizon]
                        y[e * H + k] = (target - anchor) / scales[index]
                    }
                }
                network.forward(x, context: context, batch: c.batch, steps: c.steps, pass: &pass)
                let value = loss.evaluate(predictions: pass.output, targets: y, batch: c.batch, gradient: &lossGradient)
                network.backward(x, pass: &pass, doutput: lossGradient, gradients: &gradients)
                step += 1
                optimiser.learningRate = c.learningRate * Self.schedule(step: step, warmup: warmup, total: totalSteps)
                optimiser.update(&network.parameters.values, gradients: gradients.values)
                total += value
            }
            losses.append(total / Double(batches))
        }
        return (network, losses)
    }

    /// Learning-rate factor at `step` (1-based): linear from 1/25 to 1 over `warmup` steps,
    /// then a cosine down to 0 at `total`.
    static func schedule(step: Int, warmup: Int, total: Int) -> Double {
        if step <= warmup { return 0.04 + 0.96 * Double(step) / Double(warmup) }
        let progress = Double(step - warmup) / Double(max(1, total - warmup))
        return 0.5 * (1 + cos(Double.pi * min(1, progress)))
    }

    /// Fills example `e` of `x` and `context` with the window of `item` that ends at slot
    /// `last`; returns its anchor (the value at `last`), nil when that is missing.
    static func fill(_ item: TrainingSeries, last: Int, features: NetworkFeatures, scale: Double, otherScale: Double, startSlot: Int64, steps: Int,
                     example e: Int, x: inout [Double], context: inout [Double], scratch: inout [Double]) -> Double? {
        let (S, C) = (steps * NetworkFeatures.stepCount, features.contextCount)
        let from = max(0, last + 1 - features.reach)
        return item.values.withUnsafeBufferPointer { v in
            x.withUnsafeMutableBufferPointer { xp in
                context.withUnsafeMutableBufferPointer { cp in
                    withOptionalWindow(item.other, from: from, through: last) { other in
                        features.fill(
                            series: .init(values: UnsafeBufferPointer(rebasing: v[from...last]), scale: scale),
                            other: other.map { .init(values: $0, scale: otherScale) },
                            allocation: item.allocation?[last] ?? .nan, firstTarget: startSlot + Int64(last + 1), steps: steps,
                            sequence: xp.baseAddress! + e * S, context: cp.baseAddress! + e * C, scratch: &scratch)
                    }
                }
            }
        }
    }

    private static func withOptionalWindow<R>(_ values: [Double]?, from: Int, through last: Int, _ body: (UnsafeBufferPointer<Double>?) -> R) -> R {
        // The window must end at the same slot as the series' for the lags to line up.
        guard let values, last < values.count else { return body(nil) }
        return values.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[from...last])) }
    }

    /// Mean absolute difference of consecutive observed slots before `end`, floored.
    static func scale(of values: [Double], before end: Int, floor: Double) -> Double {
        var sum = 0.0
        var count = 0
        for index in 1..<max(1, min(end, values.count)) where !values[index].isNaN && !values[index - 1].isNaN {
            sum += abs(values[index] - values[index - 1])
            count += 1
        }
        return count > 0 ? max(floor, sum / Double(count)) : floor
    }
}
