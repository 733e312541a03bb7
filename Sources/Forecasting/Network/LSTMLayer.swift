#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Shapes: B batch, T time steps, F input features, H hidden units.
//
//   i_t = σ(Wi x_t + Ui h_{t-1} + bi)      input gate     [B, H]
//   f_t = σ(Wf x_t + Uf h_{t-1} + bf)      forget gate    [B, H]
//   g_t = tanh(Wg x_t + Ug h_{t-1} + bg)   cell input     [B, H]
//   o_t = σ(Wo x_t + Uo h_{t-1} + bo)      output gate    [B, H]
//   c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t         cell state     [B, H], c_{-1} = 0
//   h_t = o_t ⊙ tanh(c_t)                   hidden state   [B, H], h_{-1} = 0
//
// Parameters: w [4H, F] (rows i, f, g, o), u [4H, H], b [4H].

/// A long short-term memory layer.
public struct LSTMLayer: Sendable, Equatable {
    public let inputs: Int
    public let hidden: Int
    public let w: ParameterBuffer.View
    public let u: ParameterBuffer.View
    public let b: ParameterBuffer.View

    public init(name: String, inputs: Int, hidden: Int, parameters: inout ParameterBuffer) {
        self.inputs = inputs
        self.hidden = hidden
        w = parameters.add("\(name).w", shape: [4 * hidden, inputs])
        u = parameters.add("\(name).u", shape: [4 * hidden, hidden])
        b = parameters.add("\(name).b", shape: [4 * hidden])
    }

    /// Forget-gate biases start at 1 so that early training remembers (Jozefowicz et al. 2015).
    public func initialiseForgetBias(_ parameters: inout ParameterBuffer) {
        for k in 0..<hidden { parameters.values[b.offset + hidden + k] = 1 }
    }

    public struct Cache: Sendable {
        public var batch: Int
        public var steps: Int
        /// Hidden states h_t [B, T, H].
        public var h: [Double]
        var c: [Double]
        /// Gate activations i, f, g, o [B, T, 4H].
        var gates: [Double]
    }

    /// x [B, T, F] → cache holding h [B, T, H].
    public func forward(_ parameters: ParameterBuffer, x: [Double], batch: Int, steps: Int) -> Cache {
        precondition(x.count == batch * steps * inputs, "x must be [B, T, F]")
        let H = hidden, F = inputs
        var h = [Double](repeating: 0, count: batch * steps * H), c = h
        var gates = [Double](repeating: 0, count: batch * steps * 4 * H)
        let zero = [Double](repeating: 0, count: H)
        var pre = [Double](repeating: 0, count: 4 * H)
        parameters.values.withUnsafeBufferPointer { p in
            let wp = p.baseAddress! + w.offset, up = p.baseAddress! + u.offset, bp = p.baseAddress! + b.offset
            x.withUnsafeBufferPointer { xp in
            h.withUnsafeMutableBufferPointer { hp in
            c.withUnsafeMutableBufferPointer { cp in
            gates.withUnsafeMutableBufferPointer { gp in
            pre.withUnsafeMutableBufferPointer { pp in
            zero.withUnsafeBufferPointer { zerop in
                for e in 0..<batch {
                    for t in 0..<steps {
                        let state = (e * steps + t) * H
                        let previousH = t == 0 ? zerop.baseAddress! : UnsafePointer(hp.baseAddress! + state - H)
                        let previousC = t == 0 ? zerop.baseAddress! : UnsafePointer(cp.baseAddress! + state - H)
                        for i in 0..<4 * H { pp[i] = bp[i] }
                        addMatrixVectorProducts(pp.baseAddress!, wp, xp.baseAddress! + (e * steps + t) * F, batch: 1, rows: 4 * H, cols: F, xStride: F, outStride: 4 * H)
                        addMatrixVectorProducts(pp.baseAddress!, up, previousH, batch: 1, rows: 4 * H, cols: H, xStride: H, outStride: 4 * H)
                        let gate = (e * steps + t) * 4 * H
                        for k in 0..<H {
                            let i = sigmoid(pp[k]), f = sigmoid(pp[H + k]), g = tanh(pp[2 * H + k]), o = sigmoid(pp[3 * H + k])
                            gp[gate + k] = i
                            gp[gate + H + k] = f
                            gp[gate + 2 * H + k] = g
                            gp[gate + 3 * H + k] = o
                            let cell = f * previousC[k] + i * g
                            cp[state + k] = cell
                            hp[state + k] = o * tanh(cell)
                        }
                    }
                }
            }}}}}}
        }
        return Cache(batch: batch, steps: steps, h: h, c: c, gates: gates)
    }

    /// Given dL/dh [B, T, H], adds dL/dparameters into `gradients` and returns dL/dx [B, T, F].
    public func backward(_ parameters: ParameterBuffer, x: [Double], cache: Cache, dh: [Double], gradients: inout ParameterBuffer) -> [Double] {
        let H = hidden, F = inputs, batch = cache.batch, steps = cache.steps
        precondition(dh.count == batch * steps * H, "dh must be [B, T, H]")
        var dx = [Double](repeating: 0, count: batch * steps * F)
        var dpre = [Double](repeating: 0, count: 4 * H)
        var carryH = [Double](repeating: 0, count: H)
        var carryC = [Double](repeating: 0, count: H)
        let zero = [Double](repeating: 0, count: H)
        parameters.values.withUnsafeBufferPointer { p in
            let wp = p.baseAddress! + w.offset, up = p.baseAddress! + u.offset
            gradients.values.withUnsafeMutableBufferPointer { g in
                let dw = g.baseAddress! + w.offset, du = g.baseAddress! + u.offset, db = g.baseAddress! + b.offset
                for e in 0..<batch {
                    for k in 0..<H { carryH[k] = 0; carryC[k] = 0 }
                    for t in stride(from: steps - 1, through: 0, by: -1) {
                        let state = (e * steps + t) * H
                        let gate = (e * steps + t) * 4 * H
                        let previousH: [Double] = t == 0 ? zero : Array(cache.h[(state - H)..<state])
                        let previousC: [Double] = t == 0 ? zero : Array(cache.c[(state - H)..<state])
                        for k in 0..<H {
                            let i = cache.gates[gate + k], f = cache.gates[gate + H + k]
                            let gg = cache.gates[gate + 2 * H + k], o = cache.gates[gate + 3 * H + k]
                            let tc = tanh(cache.c[state + k])
                            let grad = dh[state + k] + carryH[k]
                            let dc = carryC[k] + grad * o * (1 - tc * tc)
                            dpre[k] = dc * gg * i * (1 - i)
                            dpre[H + k] = dc * previousC[k] * f * (1 - f)
                            dpre[2 * H + k] = dc * i * (1 - gg * gg)
                            dpre[3 * H + k] = grad * tc * o * (1 - o)
                            carryC[k] = dc * f
                            carryH[k] = 0
                        }
                        dpre.withUnsafeBufferPointer { dp in
                            previousH.withUnsafeBufferPointer { hp in
                                carryH.withUnsafeMutableBufferPointer { chp in
                                    addMatrixVectorProductGradients(dout: dp.baseAddress!, w: up, x: hp.baseAddress!, dw: du, dx: chp.baseAddress!,
                                                                    batch: 1, rows: 4 * H, cols: H, xStride: H, doutStride: 4 * H, dxStride: H)
                                }
                            }
                            x.withUnsafeBufferPointer { xp in
                                dx.withUnsafeMutableBufferPointer { dxp in
                                    let offset = (e * steps + t) * F
                                    addMatrixVectorProductGradients(dout: dp.baseAddress!, w: wp, x: xp.baseAddress! + offset, dw: dw, dx: dxp.baseAddress! + offset,
                                                                    batch: 1, rows: 4 * H, cols: F, xStride: F, doutStride: 4 * H, dxStride: F)
                                }
                            }
                        }
                        for i in 0..<4 * H { db[i] += dpre[i] }
                    }
                }
            }
        }
        return dx
    }
}
