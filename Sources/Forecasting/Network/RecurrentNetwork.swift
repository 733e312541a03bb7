import PoolCore

// Shapes: B batch, T time steps, F input features, H hidden units, K = horizons × quantiles.
//
//   x [B, T, F] → GRU or LSTM → h [B, T, H] → last step h_T [B, H] → dense → y [B, K]

/// A recurrent encoder with a dense head reading its last hidden state: multi-horizon
/// quantile forecasts from a window of features.
public struct RecurrentNetwork: Sendable, Equatable {
    public enum Cell: String, Sendable, Equatable, Codable, CaseIterable {
        case gru, lstm
    }

    public struct Shape: Sendable, Equatable, Codable {
        public var cell: Cell
        public var features: Int
        public var hidden: Int
        public var horizons: Int
        public var quantiles: [Double]
        public init(cell: Cell = .gru, features: Int, hidden: Int, horizons: Int, quantiles: [Double]) {
            self.cell = cell
            self.features = features
            self.hidden = hidden
            self.horizons = horizons
            self.quantiles = quantiles
        }
        public var outputs: Int { horizons * quantiles.count }
    }

    public let shape: Shape
    public var parameters: ParameterBuffer
    public let encoder: Encoder
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
        head = DenseLayer(name: "head", inputs: shape.hidden, outputs: shape.outputs, parameters: &parameters)
        var random = SplitMix64(seed: seed)
        for view in parameters.views { parameters.initialise(view, using: &random) }
        lstm?.initialiseForgetBias(&parameters)
        self.parameters = parameters
    }

    public struct Pass: Sendable {
        public var batch: Int
        public var steps: Int
        public var recurrent: EncoderCache
        /// [B, K]
        public var output: [Double]
    }

    /// x [B, T, F] → outputs [B, K] and what backward needs.
    public func forward(_ x: [Double], batch: Int, steps: Int) -> Pass {
        let cache: EncoderCache = switch encoder {
        case .gru(let layer): .gru(layer.forward(parameters, x: x, batch: batch, steps: steps))
        case .lstm(let layer): .lstm(layer.forward(parameters, x: x, batch: batch, steps: steps))
        }
        let output = cache.h.withUnsafeBufferPointer { hp in
            head.forward(parameters, x: hp.baseAddress! + (steps - 1) * shape.hidden, xStride: steps * shape.hidden, batch: batch)
        }
        return Pass(batch: batch, steps: steps, recurrent: cache, output: output)
    }

    /// Given dL/doutputs [B, K], returns dL/dparameters (same layout as `parameters`).
    public func backward(_ x: [Double], pass: Pass, doutput: [Double]) -> ParameterBuffer {
        var gradients = parameters.zeros()
        let H = shape.hidden
        var dh = [Double](repeating: 0, count: pass.batch * pass.steps * H)
        pass.recurrent.h.withUnsafeBufferPointer { hp in
            dh.withUnsafeMutableBufferPointer { dhp in
                head.backward(parameters, x: hp.baseAddress! + (pass.steps - 1) * H, xStride: pass.steps * H, dy: doutput, batch: pass.batch,
                              gradients: &gradients, dx: dhp.baseAddress! + (pass.steps - 1) * H, dxStride: pass.steps * H)
            }
        }
        switch (encoder, pass.recurrent) {
        case (.gru(let layer), .gru(let cache)): _ = layer.backward(parameters, x: x, cache: cache, dh: dh, gradients: &gradients)
        case (.lstm(let layer), .lstm(let cache)): _ = layer.backward(parameters, x: x, cache: cache, dh: dh, gradients: &gradients)
        default: preconditionFailure("a pass from another network")
        }
        return gradients
    }
}
