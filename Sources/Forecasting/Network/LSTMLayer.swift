#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Shapes: B batch, T time steps, F input features, H hidden units.
//
//   i_t = σ(x_t Wi + h_{t-1} Ui + bi)      input gate     [B, H]
//   f_t = σ(x_t Wf + h_{t-1} Uf + bf)      forget gate    [B, H]
//   g_t = tanh(x_t Wg + h_{t-1} Ug + bg)   cell input     [B, H]
//   o_t = σ(x_t Wo + h_{t-1} Uo + bo)      output gate    [B, H]
//   c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t         cell state     [B, H], c_{-1} = 0
//   h_t = o_t ⊙ tanh(c_t)                   hidden state   [B, H], h_{-1} = 0
//
// Parameters: w [F, 4H] (columns i, f, g, o), u [H, 4H], b [4H].

/// A long short-term memory layer, run on a whole batch at once.
public struct LSTMLayer: Sendable, Equatable {
    public let inputs: Int
    public let hidden: Int
    public let w: ParameterBuffer.View
    public let u: ParameterBuffer.View
    public let b: ParameterBuffer.View

    public init(name: String, inputs: Int, hidden: Int, parameters: inout ParameterBuffer) {
        self.inputs = inputs
        self.hidden = hidden
        w = parameters.add("\(name).w", shape: [inputs, 4 * hidden])
        u = parameters.add("\(name).u", shape: [hidden, 4 * hidden])
        b = parameters.add("\(name).b", shape: [4 * hidden])
    }

    /// Forget-gate biases start at 1 so that early training remembers (Jozefowicz et al. 2015).
    public func initialiseForgetBias(_ parameters: inout ParameterBuffer) {
        for k in 0..<hidden { parameters.values[b.offset + hidden + k] = 1 }
    }

    /// What the backward pass needs from the forward pass, and the buffers both reuse.
    public struct Cache: Sendable {
        public internal(set) var batch = 0
        public internal(set) var steps = 0
        /// Hidden states h_t [B, T, H].
        public internal(set) var h: [Double] = []
        var c: [Double] = []
        /// Gate activations i, f, g, o [B, T, 4H].
        var gates: [Double] = []
        /// Pre-activations [B, T, 4H], then (backward) their gradients.
        var pre: [Double] = []
        var recurrent: [Double] = []
        var carryH: [Double] = []
        var carryC: [Double] = []
        var ut: [Double] = []
        var wt: [Double] = []
        public init() {}
    }

    /// x [B, T, F] → cache holding h [B, T, H].
    public func forward(_ parameters: ParameterBuffer, x: [Double], batch: Int, steps: Int) -> Cache {
        var cache = Cache()
        forward(parameters, x: x, batch: batch, steps: steps, cache: &cache)
        return cache
    }

    /// x [B, T, F] → h [B, T, H] in `cache`, reusing its buffers.
    public func forward(_ parameters: ParameterBuffer, x: [Double], batch: Int, steps: Int, cache: inout Cache) {
        precondition(x.count == batch * steps * inputs, "x must be [B, T, F]")
        let H = hidden, F = inputs, G = 4 * hidden, T = steps
        cache.batch = batch
        cache.steps = steps
        cache.h.resetToZeros(count: batch * T * H)
        cache.c.resetToZeros(count: batch * T * H)
        cache.gates.resetToZeros(count: batch * T * G)
        cache.pre.resetToZeros(count: batch * T * G)
        cache.recurrent.resetToZeros(count: batch * G)
        parameters.values.withUnsafeBufferPointer { p in
            let wp = p.baseAddress! + w.offset, up = p.baseAddress! + u.offset, bp = p.baseAddress! + b.offset
            x.withUnsafeBufferPointer { xp in
            cache.h.withUnsafeMutableBufferPointer { hb in
            cache.c.withUnsafeMutableBufferPointer { cb in
            cache.gates.withUnsafeMutableBufferPointer { gb in
            cache.pre.withUnsafeMutableBufferPointer { preb in
            cache.recurrent.withUnsafeMutableBufferPointer { recb in
                let hp = hb.baseAddress!, cp = cb.baseAddress!, gp = gb.baseAddress!, pre = preb.baseAddress!, rec = recb.baseAddress!
                Matrix.project(xp.baseAddress!, weights: wp, bias: bp, into: pre, rows: batch * T, inputs: F, outputs: G)
                for t in 0..<T {
                    recb.update(repeating: 0)
                    if t > 0 { Matrix.multiplyAdd(hp + (t - 1) * H, lda: T * H, up, ldb: G, into: rec, ldc: G, m: batch, n: G, k: H) }
                    for e in 0..<batch {
                        let state = (e * T + t) * H, gate = (e * T + t) * G, own = e * G
                        for k in 0..<H {
                            let i = sigmoid(pre[gate + k] + rec[own + k])
                            let f = sigmoid(pre[gate + H + k] + rec[own + H + k])
                            let g = tanh(pre[gate + 2 * H + k] + rec[own + 2 * H + k])
                            let o = sigmoid(pre[gate + 3 * H + k] + rec[own + 3 * H + k])
                            gp[gate + k] = i
                            gp[gate + H + k] = f
                            gp[gate + 2 * H + k] = g
                            gp[gate + 3 * H + k] = o
                            let cell = f * (t > 0 ? cp[state - H + k] : 0) + i * g
                            cp[state + k] = cell
                            hp[state + k] = o * tanh(cell)
                        }
                    }
                }
            }}}}}}
        }
    }

    /// Given dL/dh [B, T, H], adds dL/dparameters into `gradients` and returns dL/dx
    /// [B, T, F] (empty when `inputGradient` is false).
    public func backward(_ parameters: ParameterBuffer, x: [Double], cache: inout Cache, dh: [Double],
                         gradients: inout ParameterBuffer, inputGradient: Bool = true) -> [Double] {
        let H = hidden, F = inputs, G = 4 * hidden, batch = cache.batch, T = cache.steps
        precondition(dh.count == batch * T * H, "dh must be [B, T, H]")
        var dx = inputGradient ? [Double](repeating: 0, count: batch * T * F) : []
        cache.carryH.resetToZeros(count: batch * H)
        cache.carryC.resetToZeros(count: batch * H)
        cache.ut.resetToZeros(count: G * H)
        if inputGradient { cache.wt.resetToZeros(count: G * F) }
        cache.pre.resetToZeros(count: batch * T * G) // now dL/d(pre-activations)
        parameters.values.withUnsafeBufferPointer { p in
            let wp = p.baseAddress! + w.offset, up = p.baseAddress! + u.offset
            gradients.values.withUnsafeMutableBufferPointer { g in
                let dw = g.baseAddress! + w.offset, du = g.baseAddress! + u.offset, db = g.baseAddress! + b.offset
                x.withUnsafeBufferPointer { xp in
                dh.withUnsafeBufferPointer { dhp in
                cache.h.withUnsafeBufferPointer { hb in
                cache.c.withUnsafeBufferPointer { cb in
                cache.gates.withUnsafeBufferPointer { gb in
                cache.pre.withUnsafeMutableBufferPointer { dpreb in
                cache.carryH.withUnsafeMutableBufferPointer { chb in
                cache.carryC.withUnsafeMutableBufferPointer { ccb in
                cache.ut.withUnsafeMutableBufferPointer { utb in
                cache.wt.withUnsafeMutableBufferPointer { wtb in
                    let hp = hb.baseAddress!, cp = cb.baseAddress!, gp = gb.baseAddress!, dpre = dpreb.baseAddress!
                    let carryH = chb.baseAddress!, carryC = ccb.baseAddress!, ut = utb.baseAddress!
                    Matrix.transpose(up, ldw: G, rows: H, cols: G, into: ut)
                    for t in stride(from: T - 1, through: 0, by: -1) {
                        for e in 0..<batch {
                            let state = (e * T + t) * H, gate = (e * T + t) * G, own = e * H
                            for k in 0..<H {
                                let i = gp[gate + k], f = gp[gate + H + k], gg = gp[gate + 2 * H + k], o = gp[gate + 3 * H + k]
                                let previousC = t > 0 ? cp[state - H + k] : 0
                                let tc = tanh(cp[state + k])
                                let grad = dhp[state + k] + carryH[own + k]
                                let dc = carryC[own + k] + grad * o * (1 - tc * tc)
                                dpre[gate + k] = dc * gg * i * (1 - i)
                                dpre[gate + H + k] = dc * previousC * f * (1 - f)
                                dpre[gate + 2 * H + k] = dc * i * (1 - gg * gg)
                                dpre[gate + 3 * H + k] = grad * tc * o * (1 - o)
                                carryC[own + k] = dc * f
                            }
                        }
                        chb.update(repeating: 0)
                        if t > 0 {
                            Matrix.multiplyAdd(dpre + t * G, lda: T * G, ut, ldb: H, into: carryH, ldc: H, m: batch, n: H, k: G)
                            Matrix.multiplyAddTransposed(hp + (t - 1) * H, lda: T * H, dpre + t * G, ldb: T * G, into: du, ldc: G, m: batch, n: G, k: H)
                        }
                    }
                    dx.withUnsafeMutableBufferPointer { dxp in
                        Matrix.projectBackward(xp.baseAddress!, weights: wp, dpre: dpre, dw: dw, db: db, dx: inputGradient ? dxp.baseAddress! : nil,
                                               scratch: wtb.baseAddress, rows: batch * T, inputs: F, outputs: G)
                    }
                }}}}}}}}}}
            }
        }
        return dx
    }
}
