import PoolCore
@testable import Forecasting
import Testing

/// Checks `analytic` (the gradient of `loss` at `point`) against central differences, one
/// coordinate at a time, to 1e-6 absolute plus 1e-4 relative.
func expectGradient(_ analytic: [Double], at point: [Double], of loss: ([Double]) -> Double, _ what: String,
                    epsilon: Double = 1e-6, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(analytic.count == point.count, sourceLocation: sourceLocation)
    for index in point.indices {
        var plus = point, minus = point
        plus[index] += epsilon
        minus[index] -= epsilon
        let numeric = (loss(plus) - loss(minus)) / (2 * epsilon)
        let tolerance = 1e-6 + 1e-4 * max(abs(analytic[index]), abs(numeric))
        #expect(abs(analytic[index] - numeric) <= tolerance, "\(what) \(index): analytic \(analytic[index]), numeric \(numeric)", sourceLocation: sourceLocation)
    }
}

/// Finite-difference checks of every backward pass: central differences in double precision
/// against the analytic gradient, on small random shapes.
@Suite struct GradientTests {
    func randomValues(_ count: Int, _ random: inout SplitMix64) -> [Double] {
        (0..<count).map { _ in Double.random(in: -1...1, using: &random) }
    }


    @Test func gruLayerParametersAndInputs() {
        var random = SplitMix64(seed: 1)
        var parameters = ParameterBuffer()
        let layer = GRULayer(name: "gru", inputs: 3, hidden: 4, parameters: &parameters)
        parameters.values = randomValues(parameters.values.count, &random)
        let (batch, steps) = (2, 5)
        let x = randomValues(batch * steps * 3, &random)
        let weights = randomValues(batch * steps * 4, &random) // L = Σ weights ⊙ h
        func loss(_ p: ParameterBuffer, _ x: [Double]) -> Double {
            zip(layer.forward(p, x: x, batch: batch, steps: steps).h, weights).reduce(0) { $0 + $1.0 * $1.1 }
        }
        var gradients = parameters.zeros()
        var cache = layer.forward(parameters, x: x, batch: batch, steps: steps)
        let dx = layer.backward(parameters, x: x, cache: &cache, dh: weights, gradients: &gradients)
        expectGradient(gradients.values, at: parameters.values, of: { values in
            var p = parameters
            p.values = values
            return loss(p, x)
        }, "parameter")
        expectGradient(dx, at: x, of: { loss(parameters, $0) }, "input")
    }

    @Test(arguments: [DenseLayer.Activation.linear, .relu])
    func denseLayerParametersAndInputs(activation: DenseLayer.Activation) {
        var random = SplitMix64(seed: 2)
        var parameters = ParameterBuffer()
        let layer = DenseLayer(name: "dense", inputs: 4, outputs: 3, activation: activation, parameters: &parameters)
        parameters.values = randomValues(parameters.values.count, &random)
        let batch = 3
        // Inputs kept where no ReLU unit sits at its kink, where the derivative is undefined.
        var x = randomValues(batch * 4, &random)
        while activation == .relu && x.withUnsafeBufferPointer({ layer.forward(parameters, x: $0.baseAddress!, xStride: 4, batch: batch) })
            .contains(where: { $0 == 0 }) == false {
            x = randomValues(batch * 4, &random) // want some units off so the ReLU's zero branch is checked
        }
        let weights = randomValues(batch * 3, &random)
        func loss(_ p: ParameterBuffer, _ x: [Double]) -> Double {
            x.withUnsafeBufferPointer { zip(layer.forward(p, x: $0.baseAddress!, xStride: 4, batch: batch), weights).reduce(0) { $0 + $1.0 * $1.1 } }
        }
        var gradients = parameters.zeros()
        var dx = [Double](repeating: 0, count: x.count)
        var dy = weights
        var scratch: [Double] = []
        let y = x.withUnsafeBufferPointer { layer.forward(parameters, x: $0.baseAddress!, xStride: 4, batch: batch) }
        x.withUnsafeBufferPointer { xp in
            dx.withUnsafeMutableBufferPointer { dxp in
                layer.backward(parameters, x: xp.baseAddress!, xStride: 4, y: y, dy: &dy, batch: batch, gradients: &gradients,
                               dx: dxp.baseAddress!, dxStride: 4, scratch: &scratch)
            }
        }
        expectGradient(gradients.values, at: parameters.values, of: { values in
            var p = parameters
            p.values = values
            return loss(p, x)
        }, "parameter", epsilon: 1e-7)
        expectGradient(dx, at: x, of: { loss(parameters, $0) }, "input", epsilon: 1e-7)
    }

    @Test func pinballLossAwayFromItsKinks() {
        var random = SplitMix64(seed: 3)
        let loss = PinballLoss(quantiles: [0.1, 0.5, 0.9])
        let batch = 2
        let predictions = randomValues(batch * 2 * 3, &random)
        var targets = randomValues(batch * 2, &random)
        targets[3] = .nan // a missing slot contributes nothing
        let (_, gradient) = loss.evaluate(predictions: predictions, targets: targets, batch: batch)
        expectGradient(gradient, at: predictions, of: { loss.evaluate(predictions: $0, targets: targets, batch: batch).loss }, "prediction")
        #expect(gradient[9..<12].allSatisfy { $0 == 0 })
    }

    @Test(arguments: RecurrentNetwork.Cell.allCases, [0, 6])
    func wholeNetworkEndToEnd(cell: RecurrentNetwork.Cell, mlp: Int) {
        var network = RecurrentNetwork(shape: .init(cell: cell, features: 3, context: 4, hidden: 5, mlp: mlp, horizons: 2, quantiles: [0.5, 0.9]), seed: 4)
        var random = SplitMix64(seed: 5)
        network.parameters.values = network.parameters.values.map { $0 + Double.random(in: -0.3...0.3, using: &random) }
        let (batch, steps) = (2, 4)
        let x = randomValues(batch * steps * 3, &random)
        let context = randomValues(batch * 4, &random)
        let weights = randomValues(batch * 4, &random)
        func loss(_ n: RecurrentNetwork) -> Double {
            zip(n.forward(x, context: context, batch: batch, steps: steps).output, weights).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let gradients = network.backward(x, pass: network.forward(x, context: context, batch: batch, steps: steps), doutput: weights)
        expectGradient(gradients.values, at: network.parameters.values, of: { values in
            var n = network
            n.parameters.values = values
            return loss(n)
        }, "parameter")
    }

    @Test func aReusedPassGivesTheSameOutputsAndGradientsAsAFreshOne() {
        let network = RecurrentNetwork(shape: .init(features: 2, context: 3, hidden: 4, mlp: 5, horizons: 2, quantiles: [0.5]), seed: 6)
        var random = SplitMix64(seed: 7)
        var pass = RecurrentNetwork.Pass(for: network)
        var gradients = network.parameters.zeros()
        for batch in [3, 1, 3] {
            let x = randomValues(batch * 6 * 2, &random), context = randomValues(batch * 3, &random), d = randomValues(batch * 2, &random)
            network.forward(x, context: context, batch: batch, steps: 6, pass: &pass)
            network.backward(x, pass: &pass, doutput: d, gradients: &gradients)
            let fresh = network.forward(x, context: context, batch: batch, steps: 6)
            #expect(pass.output == fresh.output)
            #expect(gradients.values == network.backward(x, pass: fresh, doutput: d).values)
        }
    }
}

@Suite struct TrainingAndCheckpointTests {
    @Test(arguments: RecurrentNetwork.Cell.allCases)
    func adamLearnsAShiftedCopyOfTheInput(cell: RecurrentNetwork.Cell) {
        // Target: the last input value plus 1, at both horizons; the median head must learn it.
        var network = RecurrentNetwork(shape: .init(cell: cell, features: 1, hidden: 8, horizons: 2, quantiles: [0.5]), seed: 6)
        var optimiser = AdamOptimizer(parameterCount: network.parameters.values.count, learningRate: 0.01)
        let loss = PinballLoss(quantiles: [0.5])
        var random = SplitMix64(seed: 7)
        func batchOf(_ size: Int) -> ([Double], [Double]) {
            var x: [Double] = [], y: [Double] = []
            for _ in 0..<size {
                let window = (0..<6).map { _ in Double.random(in: -1...1, using: &random) }
                x += window
                y += [window[5] + 1, window[5] + 1]
            }
            return (x, y)
        }
        let (testX, testY) = batchOf(64)
        let before = loss.evaluate(predictions: network.forward(testX, batch: 64, steps: 6).output, targets: testY, batch: 64).loss
        for _ in 0..<300 {
            let (x, y) = batchOf(16)
            let pass = network.forward(x, batch: 16, steps: 6)
            let (_, gradient) = loss.evaluate(predictions: pass.output, targets: y, batch: 16)
            optimiser.update(&network.parameters.values, gradients: network.backward(x, pass: pass, doutput: gradient).values)
        }
        let after = loss.evaluate(predictions: network.forward(testX, batch: 64, steps: 6).output, targets: testY, batch: 64).loss
        #expect(after < before / 4, "loss \(before) -> \(after)")
    }

    @Test(arguments: RecurrentNetwork.Cell.allCases)
    func aCheckpointRoundTripsExactly(cell: RecurrentNetwork.Cell) throws {
        let network = RecurrentNetwork(shape: .init(cell: cell, features: 4, context: 3, hidden: 6, mlp: 5, horizons: 6, quantiles: [0.05, 0.5, 0.95]), seed: 8)
        let restored = try Checkpoint.decode(Checkpoint.encode(network))
        #expect(restored == network)
        let x = (0..<24).map { Double($0) / 24 }
        #expect(restored.forward(x, context: [1, 2, 3], batch: 1, steps: 6).output == network.forward(x, context: [1, 2, 3], batch: 1, steps: 6).output)
    }

    @Test func aCheckpointOfAnotherVersionOrDamagedIsRefused() {
        let bytes = Checkpoint.encode(RecurrentNetwork(shape: .init(features: 2, hidden: 3, horizons: 1, quantiles: [0.5]), seed: 9))
        var otherVersion = bytes
        otherVersion[8] = 1
        #expect(throws: Checkpoint.LoadError(description: "checkpoint format version 1 is not the supported version 2; retrain or convert it")) {
            _ = try Checkpoint.decode(otherVersion)
        }
        #expect(throws: Checkpoint.LoadError.self) { _ = try Checkpoint.decode(Array(bytes.dropLast(3))) }
        #expect(throws: Checkpoint.LoadError.self) { _ = try Checkpoint.decode(Array("not a checkpoint".utf8)) }
        #expect(throws: Checkpoint.LoadError.self) { _ = try Checkpoint.decode(bytes + [0]) }
        var diverged = RecurrentNetwork(shape: .init(features: 2, hidden: 3, horizons: 1, quantiles: [0.5]), seed: 9)
        diverged.parameters.values[4] = .nan
        #expect(throws: Checkpoint.LoadError(description: "checkpoint parameter 4 is nan, not a finite number")) {
            _ = try Checkpoint.decode(Checkpoint.encode(diverged))
        }
    }
}

@Suite struct LSTMGradientTests {
    @Test func lstmLayerParametersAndInputs() {
        var random = SplitMix64(seed: 11)
        var parameters = ParameterBuffer()
        let layer = LSTMLayer(name: "lstm", inputs: 3, hidden: 4, parameters: &parameters)
        parameters.values = (0..<parameters.values.count).map { _ in Double.random(in: -1...1, using: &random) }
        let (batch, steps) = (2, 5)
        let x = (0..<(batch * steps * 3)).map { _ in Double.random(in: -1...1, using: &random) }
        let weights = (0..<(batch * steps * 4)).map { _ in Double.random(in: -1...1, using: &random) }
        func loss(_ p: ParameterBuffer, _ x: [Double]) -> Double {
            zip(layer.forward(p, x: x, batch: batch, steps: steps).h, weights).reduce(0) { $0 + $1.0 * $1.1 }
        }
        var gradients = parameters.zeros()
        var cache = layer.forward(parameters, x: x, batch: batch, steps: steps)
        let dx = layer.backward(parameters, x: x, cache: &cache, dh: weights, gradients: &gradients)
        expectGradient(gradients.values, at: parameters.values, of: { values in
            var p = parameters
            p.values = values
            return loss(p, x)
        }, "parameter")
        expectGradient(dx, at: x, of: { loss(parameters, $0) }, "input")
    }
}
