import PoolCore

// Shapes: B batch, T time steps, F features per step, C context features, H hidden units,
// M units of the head's hidden layer, K = horizons × quantiles.
//
//   x [B, T, F] → GRU or LSTM → h [B, T, H] → last step h_T [B, H] ┐
//                                          context c [B, C] ────────┴→ z = [h_T, c] [B, H + C]
//   z → dense + ReLU → a [B, M] → dense → y [B, K]          (M = 0: z → dense → y)

/// A recurrent encoder of a window of steps, whose last hidden state is read together with a
/// vector of context features by a small dense head: multi-horizon quantile forecasts.
public struct RecurrentNetwork: Sendable, Equatable {
    public enum Cell: String, Sendable, Equatable, Codable, CaseIterable {
        case gru, lstm
    }

    public struct Shape: Sendable, Equatable, Codable {
        public var cell: Cell
        public var features: Int
        public var context: Int
        public var hidden: Int
        /// Units of the head's ReLU layer; 0 for a linear head.
        public var mlp: Int
        public var horizons: Int
        public var quantiles: [Double]
        /// Time steps of the windows it was trained on (any length runs; this one is meant).
        public var steps: Int
        /// Seconds per slot of the series it reads, and the slots ahead its horizons are at.
        public var interval: Int
        public var horizonSlots: [Int]
        public init(cell: Cell = .gru, features: Int, context: Int = 0, hidden: Int, mlp: Int = 0, horizons: Int, quantiles: [Double], steps: Int = 12,
                    interval: Int = 300, horizonSlots: [Int]? = nil) {
            precondition(horizonSlots == nil || horizonSlots!.count == horizons, "one slot count per horizon")
            self.cell = cell
            self.interval = interval
            self.horizonSlots = horizonSlots ?? Array(1...max(1, horizons))
            self.steps = steps
            self.features = features
            self.context = context
            self.hidden = hidden
            self.mlp = mlp
            self.horizons = horizons
            self.quantiles = quantiles
        }
        public var outputs: Int { horizons * quantiles.count }
    }

    public let shape: Shape
    public var parameters: ParameterBuffer
    public let encoder: Encoder
    /// The ReLU layer of the head, when `shape.mlp > 0`.
    public let mlp: DenseLayer?
    public let head: DenseLayer

    public enum Encoder: Sendable, Equatable {
        case gru(GRULayer)
        case lstm(LSTMLayer)
    }

    public enum EncoderCache: Sendable {
        case gru(GRULayer.Cache)
        case lstm(LSTMLayer.Cache)

        /// Hidden states h [B, T, H].
        public var h: [Double] {
            switch self {
            case .gru(let cache): cache.h
            case .lstm(let cache): cache.h
            }
        }
    }

    /// A network with seeded Glorot-uniform weights and zero biases.
    public init(shape: Shape, seed: UInt64) {
        self.shape = shape
        var parameters = ParameterBuffer()
        let lstm: LSTMLayer?
        switch shape.cell {
        case .gru:
            encoder = .gru(GRULayer(name: "gru", inputs: shape.features, hidden: shape.hidden, parameters: &parameters))
            lstm = nil
        case .lstm:
            let layer = LSTMLayer(name: "lstm", inputs: shape.features, hidden: shape.hidden, parameters: &parameters)
            encoder = .lstm(layer)
            lstm = layer
        }
        let joined = shape.hidden + shape.context
        mlp = shape.mlp > 0 ? DenseLayer(name: "mlp", inputs: joined, outputs: shape.mlp, activation: .relu, parameters: &parameters) : nil
        head = DenseLayer(name: "head", inputs: shape.mlp > 0 ? shape.mlp : joined, outputs: shape.outputs, parameters: &parameters)
        var random = SplitMix64(seed: seed)
        for view in parameters.views { parameters.initialise(view, using: &random) }
        lstm?.initialiseForgetBias(&parameters)
        self.parameters = parameters
    }

    /// One forward pass and the buffers its backward pass reuses.
    public struct Pass: Sendable {
        public internal(set) var batch = 0
        public internal(set) var steps = 0
        public internal(set) var recurrent: EncoderCache
        /// [h_T, c] [B, H + C].
        var joined: [Double] = []
        /// The ReLU layer's output [B, M].
        var hiddenOutput: [Double] = []
        /// [B, K]
        public internal(set) var output: [Double] = []
        var dJoined: [Double] = []
        var dHidden: [Double] = []
        var dOutput: [Double] = []
        var dh: [Double] = []
        var scratch: [Double] = []

        public init(for network: RecurrentNetwork) {
            switch network.encoder {
            case .gru: recurrent = .gru(GRULayer.Cache())
            case .lstm: recurrent = .lstm(LSTMLayer.Cache())
            }
        }
    }

    /// x [B, T, F] and context [B, C] → outputs [B, K] and what backward needs.
    public func forward(_ x: [Double], context: [Double] = [], batch: Int, steps: Int) -> Pass {
        var pass = Pass(for: self)
        forward(x, context: context, batch: batch, steps: steps, pass: &pass)
        return pass
    }

    /// x [B, T, F] and context [B, C] → `pass.output` [B, K], reusing the pass's buffers.
    public func forward(_ x: [Double], context: [Double], batch: Int, steps: Int, pass: inout Pass) {
        let H = shape.hidden, C = shape.context, J = H + C
        precondition(context.count == batch * C, "context must be [B, C]")
        pass.batch = batch
        pass.steps = steps
        switch (encoder, pass.recurrent) {
        case (.gru(let layer), .gru(var cache)):
            pass.recurrent = .gru(GRULayer.Cache()) // let `cache` be uniquely referenced
            layer.forward(parameters, x: x, batch: batch, steps: steps, cache: &cache)
            pass.recurrent = .gru(cache)
        case (.lstm(let layer), .lstm(var cache)):
            pass.recurrent = .lstm(LSTMLayer.Cache())
            layer.forward(parameters, x: x, batch: batch, steps: steps, cache: &cache)
            pass.recurrent = .lstm(cache)
        default: preconditionFailure("a pass made for another network")
        }
        pass.joined.resetToZeros(count: batch * J)
        let h = pass.recurrent.h
        for e in 0..<batch {
            for k in 0..<H { pass.joined[e * J + k] = h[(e * steps + steps - 1) * H + k] }
            for k in 0..<C { pass.joined[e * J + H + k] = context[e * C + k] }
        }
        pass.joined.withUnsafeBufferPointer { zp in
            if let mlp {
                mlp.forward(parameters, x: zp.baseAddress!, xStride: J, batch: batch, into: &pass.hiddenOutput)
                pass.hiddenOutput.withUnsafeBufferPointer { ap in
                    head.forward(parameters, x: ap.baseAddress!, xStride: shape.mlp, batch: batch, into: &pass.output)
                }
            } else {
                head.forward(parameters, x: zp.baseAddress!, xStride: J, batch: batch, into: &pass.output)
            }
        }
    }

    /// Given dL/doutputs [B, K], returns dL/dparameters (same layout as `parameters`).
    public func backward(_ x: [Double], pass: Pass, doutput: [Double]) -> ParameterBuffer {
        var gradients = parameters.zeros()
        var pass = pass
        backward(x, pass: &pass, doutput: doutput, gradients: &gradients)
        return gradients
    }

    /// Given dL/doutputs [B, K], sets `gradients` to dL/dparameters, reusing the pass's buffers.
    public func backward(_ x: [Double], pass: inout Pass, doutput: [Double], gradients: inout ParameterBuffer) {
        let H = shape.hidden, C = shape.context, J = H + C, batch = pass.batch, steps = pass.steps
        precondition(doutput.count == batch * shape.outputs, "doutput must be [B, K]")
        gradients.values.resetToZeros(count: parameters.values.count)
        pass.dOutput = doutput
        pass.dJoined.resetToZeros(count: batch * J)
        pass.joined.withUnsafeBufferPointer { zp in
            pass.dJoined.withUnsafeMutableBufferPointer { dzp in
                if let mlp {
                    pass.dHidden.resetToZeros(count: batch * shape.mlp)
                    pass.hiddenOutput.withUnsafeBufferPointer { ap in
                        pass.dHidden.withUnsafeMutableBufferPointer { dap in
                            head.backward(parameters, x: ap.baseAddress!, xStride: shape.mlp, y: pass.output, dy: &pass.dOutput, batch: batch,
                                          gradients: &gradients, dx: dap.baseAddress!, dxStride: shape.mlp, scratch: &pass.scratch)
                        }
                    }
                    mlp.backward(parameters, x: zp.baseAddress!, xStride: J, y: pass.hiddenOutput, dy: &pass.dHidden, batch: batch,
                                 gradients: &gradients, dx: dzp.baseAddress!, dxStride: J, scratch: &pass.scratch)
                } else {
                    head.backward(parameters, x: zp.baseAddress!, xStride: J, y: pass.output, dy: &pass.dOutput, batch: batch,
                                  gradients: &gradients, dx: dzp.baseAddress!, dxStride: J, scratch: &pass.scratch)
                }
            }
        }
        pass.dh.resetToZeros(count: batch * steps * H)
        for e in 0..<batch { for k in 0..<H { pass.dh[(e * steps + steps - 1) * H + k] = pass.dJoined[e * J + k] } }
        switch (encoder, pass.recurrent) {
        case (.gru(let layer), .gru(var cache)):
            pass.recurrent = .gru(GRULayer.Cache())
            _ = layer.backward(parameters, x: x, cache: &cache, dh: pass.dh, gradients: &gradients, inputGradient: false)
            pass.recurrent = .gru(cache)
        case (.lstm(let layer), .lstm(var cache)):
            pass.recurrent = .lstm(LSTMLayer.Cache())
            _ = layer.backward(parameters, x: x, cache: &cache, dh: pass.dh, gradients: &gradients, inputGradient: false)
            pass.recurrent = .lstm(cache)
        default: preconditionFailure("a pass made for another network")
        }
    }
}
