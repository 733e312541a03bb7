// Shapes: B batch, T time steps, F input features, H hidden units, K = horizons × quantiles.
//
//   x [B, T, F] → GRU → h [B, T, H] → last step h_T [B, H] → dense → y [B, K]

/// A recurrent encoder with a dense head reading its last hidden state: multi-horizon
/// quantile forecasts from a window of features.
public struct RecurrentNetwork: Sendable, Equatable {
    public struct Shape: Sendable, Equatable, Codable {
        public var features: Int
        public var hidden: Int
        public var horizons: Int
        public var quantiles: [Double]
        public init(features: Int, hidden: Int, horizons: Int, quantiles: [Double]) {
            self.features = features
            self.hidden = hidden
            self.horizons = horizons
            self.quantiles = quantiles
        }
        public var outputs: Int { horizons * quantiles.count }
    }

    public let shape: Shape
    public var parameters: ParameterBuffer
    public let gru: GRULayer
    public let head: DenseLayer

    /// A network with seeded Glorot-uniform weights and zero biases.
    public init(shape: Shape, seed: UInt64) {
        self.shape = shape
        var parameters = ParameterBuffer()
        gru = GRULayer(name: "gru", inputs: shape.features, hidden: shape.hidden, parameters: &parameters)
        head = DenseLayer(name: "head", inputs: shape.hidden, outputs: shape.outputs, parameters: &parameters)
        var random = SplitMix64(seed: seed)
        for view in parameters.views { parameters.initialise(view, using: &random) }
        self.parameters = parameters
    }

    public struct Pass: Sendable {
        public var batch: Int
        public var steps: Int
        public var recurrent: GRULayer.Cache
        /// [B, K]
        public var output: [Double]
    }

    /// x [B, T, F] → outputs [B, K] and what backward needs.
    public func forward(_ x: [Double], batch: Int, steps: Int) -> Pass {
        let cache = gru.forward(parameters, x: x, batch: batch, steps: steps)
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
        _ = gru.backward(parameters, x: x, cache: pass.recurrent, dh: dh, gradients: &gradients)
        return gradients
    }
}

/// SplitMix64: a small, fast, seedable generator for reproducible initialisation.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
