import PoolCore

/// Trains one global network on windows drawn from many series.
public struct NetworkTrainer: Sendable {
    public struct Configuration: Sendable, Equatable {
        public var cell = RecurrentNetwork.Cell.gru
        /// Hidden units.
        public var hidden = 24
        /// Slots in each input window (24 = 2 hours).
        public var steps = 24
        public var horizons = 6
        /// The median for the point, and the ends of the 80, 90 and 95% intervals.
        public var quantiles = [0.025, 0.05, 0.1, 0.5, 0.9, 0.95, 0.975]
        /// Training windows drawn per epoch.
        public var samples = 60_000
        public var epochs = 4
        public var batch = 32
        public var learningRate = 3e-3
        public var seed: UInt64 = 1
        public var scaleFloor = 0.01
        public init() {}
    }

    public let configuration: Configuration

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// A network trained on `series` (values per slot, NaN when missing; slot 0 of every
    /// series is the absolute 5-minute slot `startSlot`), using only slots before `end`.
    /// Returns it with the mean training loss of each epoch.
    public func train(series: [[Double]], startSlot: Int64, end: Int) -> (network: RecurrentNetwork, losses: [Double]) {
        let c = configuration
        var network = RecurrentNetwork(
            shape: .init(cell: c.cell, features: NetworkFeatures.count, hidden: c.hidden, horizons: c.horizons, quantiles: c.quantiles), seed: c.seed)
        var random = SplitMix64(seed: c.seed &+ 1)
        let scales = series.map { Self.scale(of: $0, before: end, floor: c.scaleFloor) }
        // Windows whose last slot is observed and that have a target inside the training part.
        var candidates: [(series: Int, last: Int)] = []
        for (index, values) in series.enumerated() {
            let limit = min(values.count, end) - c.horizons
            guard limit > c.steps else { continue }
            for last in stride(from: c.steps - 1, to: limit, by: 1) where !values[last].isNaN && !values[last + 1].isNaN {
                candidates.append((index, last))
            }
        }
        guard !candidates.isEmpty else { return (network, []) }
        var optimiser = AdamOptimizer(parameterCount: network.parameters.values.count, learningRate: c.learningRate)
        let loss = PinballLoss(quantiles: c.quantiles)
        var losses: [Double] = []
        var window: [Double] = []
        for _ in 0..<c.epochs {
            var total = 0.0
            var batches = 0
            for _ in 0..<(c.samples / c.batch) {
                var x: [Double] = []
                var y: [Double] = []
                x.reserveCapacity(c.batch * c.steps * NetworkFeatures.count)
                for _ in 0..<c.batch {
                    let (index, last) = candidates[Int.random(in: 0..<candidates.count, using: &random)]
                    let values = series[index]
                    let anchor = values[last]
                    NetworkFeatures.window(steps: c.steps, lastSlot: startSlot + Int64(last), anchor: anchor, scale: scales[index],
                                           value: { values[last + 1 - $0] }, into: &window)
                    x += window
                    for horizon in 1...c.horizons {
                        let target = values[last + horizon]
                        y.append(target.isNaN ? .nan : (target - anchor) / scales[index])
                    }
                }
                let pass = network.forward(x, batch: c.batch, steps: c.steps)
                let (value, gradient) = loss.evaluate(predictions: pass.output, targets: y, batch: c.batch)
                optimiser.update(&network.parameters.values, gradients: network.backward(x, pass: pass, doutput: gradient).values)
                total += value
                batches += 1
            }
            losses.append(total / Double(max(1, batches)))
        }
        return (network, losses)
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
