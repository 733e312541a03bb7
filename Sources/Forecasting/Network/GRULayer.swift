#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Shapes: B batch, T time steps, F input features, H hidden units.
//
//   z_t = σ(x_t Wz + h_{t-1} Uz + bz)             update gate        [B, H]
//   r_t = σ(x_t Wr + h_{t-1} Ur + br)             reset gate         [B, H]
//   n_t = tanh(x_t Wn + (r_t ⊙ h_{t-1}) Un + bn)  candidate          [B, H]
//   h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ n_t         hidden state       [B, H], h_{-1} = 0
//
// Parameters: w [F, 3H] (columns z, r, n), u [H, 3H], b [3H].

/// A gated recurrent unit layer, run on a whole batch at once: each step is a few matrix
/// products over the batch.
public struct GRULayer: Sendable, Equatable {
    public let inputs: Int
    public let hidden: Int
    public let w: ParameterBuffer.View
    public let u: ParameterBuffer.View
    public let b: ParameterBuffer.View

    public init(name: String, inputs: Int, hidden: Int, parameters: inout ParameterBuffer) {
        self.inputs = inputs
        self.hidden = hidden
        w = parameters.add("\(name).w", shape: [inputs, 3 * hidden])
        u = parameters.add("\(name).u", shape: [hidden, 3 * hidden])
        b = parameters.add("\(name).b", shape: [3 * hidden])
    }

    /// What the backward pass needs from the forward pass, and the buffers both reuse from
    /// one batch to the next.
    public struct Cache: Sendable {
        public internal(set) var batch = 0
        public internal(set) var steps = 0
        /// Hidden states h_t [B, T, H].
        public internal(set) var h: [Double] = []
        var z: [Double] = []
        var r: [Double] = []
        var n: [Double] = []
        /// r_t ⊙ h_{t-1} [B, T, H].
        var rh: [Double] = []
        /// Pre-activations x_t W + b [B, T, 3H], then (backward) their gradients.
        var pre: [Double] = []
        /// One step's recurrent products [B, 3H].
        var recurrent: [Double] = []
        var carry: [Double] = []
        var dprevious: [Double] = []
        var drh: [Double] = []
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
        let H = hidden, F = inputs, G = 3 * hidden, T = steps
        let size = batch * steps * H
        cache.batch = batch
        cache.steps = steps
        cache.h.resetToZeros(count: size)
        cache.z.resetToZeros(count: size)
        cache.r.resetToZeros(count: size)
        cache.n.resetToZeros(count: size)
        cache.rh.resetToZeros(count: size)
        cache.pre.resetToZeros(count: batch * steps * G)
        cache.recurrent.resetToZeros(count: batch * G)
        parameters.values.withUnsafeBufferPointer { p in
            let wp = p.baseAddress! + w.offset, up = p.baseAddress! + u.offset, bp = p.baseAddress! + b.offset
            x.withUnsafeBufferPointer { xp in
            cache.h.withUnsafeMutableBufferPointer { hb in
            cache.z.withUnsafeMutableBufferPointer { zb in
            cache.r.withUnsafeMutableBufferPointer { rb in
            cache.n.withUnsafeMutableBufferPointer { nb in
            cache.rh.withUnsafeMutableBufferPointer { rhb in
            cache.pre.withUnsafeMutableBufferPointer { preb in
            cache.recurrent.withUnsafeMutableBufferPointer { recb in
                let hp = hb.baseAddress!, zp = zb.baseAddress!, rp = rb.baseAddress!, np = nb.baseAddress!
                let rhp = rhb.baseAddress!, pre = preb.baseAddress!, rec = recb.baseAddress!
                Matrix.project(xp.baseAddress!, weights: wp, bias: bp, into: pre, rows: batch * T, inputs: F, outputs: G)
                for t in 0..<T {
                    recb.update(repeating: 0)
                    if t > 0 {
                        Matrix.multiplyAdd(hp + (t - 1) * H, lda: T * H, up, ldb: G, into: rec, ldc: G, m: batch, n: 2 * H, k: H)
                    }
                    for e in 0..<batch {
                        let state = (e * T + t) * H, gates = (e * T + t) * G, own = e * G
                        for k in 0..<H {
                            let previous = t > 0 ? hp[state - H + k] : 0
                            zp[state + k] = sigmoid(pre[gates + k] + rec[own + k])
                            let reset = sigmoid(pre[gates + H + k] + rec[own + H + k])
                            rp[state + k] = reset
                            rhp[state + k] = reset * previous
                        }
                    }
                    if t > 0 {
                        Matrix.multiplyAdd(rhp + t * H, lda: T * H, up + 2 * H, ldb: G, into: rec + 2 * H, ldc: G, m: batch, n: H, k: H)
                    }
                    for e in 0..<batch {
                        let state = (e * T + t) * H, gates = (e * T + t) * G, own = e * G
                        for k in 0..<H {
                            let previous = t > 0 ? hp[state - H + k] : 0
                            let candidate = tanh(pre[gates + 2 * H + k] + rec[own + 2 * H + k])
                            np[state + k] = candidate
                            let gate = zp[state + k]
                            hp[state + k] = (1 - gate) * previous + gate * candidate
                        }
                    }
                }
            }}}}}}}}
        }
    }

    /// Given dL/dh [B, T, H], adds dL/dparameters into `gradients` and returns dL/dx
    /// [B, T, F] (empty when `inputGradient` is false).
    public func backward(_ parameters: ParameterBuffer, x: [Double], cache: inout Cache, dh: [Double],
                         gradients: inout ParameterBuffer, inputGradient: Bool = true) -> [Double] {
        let H = hidden, F = inputs, G = 3 * hidden, batch = cache.batch, T = cache.steps
        precondition(dh.count == batch * T * H, "dh must be [B, T, H]")
        var dx = inputGradient ? [Double](repeating: 0, count: batch * T * F) : []
        cache.carry.resetToZeros(count: batch * H)
        cache.dprevious.resetToZeros(count: batch * H)
        cache.drh.resetToZeros(count: batch * H)
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
                cache.z.withUnsafeBufferPointer { zb in
                cache.r.withUnsafeBufferPointer { rb in
                cache.n.withUnsafeBufferPointer { nb in
                cache.rh.withUnsafeBufferPointer { rhb in
                cache.pre.withUnsafeMutableBufferPointer { dpreb in
                cache.carry.withUnsafeMutableBufferPointer { carryb in
                cache.dprevious.withUnsafeMutableBufferPointer { dprevb in
                cache.drh.withUnsafeMutableBufferPointer { drhb in
                cache.ut.withUnsafeMutableBufferPointer { utb in
                cache.wt.withUnsafeMutableBufferPointer { wtb in
                    let hp = hb.baseAddress!, dpre = dpreb.baseAddress!, carry = carryb.baseAddress!
                    let dprev = dprevb.baseAddress!, drh = drhb.baseAddress!, ut = utb.baseAddress!
                    Matrix.transpose(up, ldw: G, rows: H, cols: G, into: ut)
                    for t in stride(from: T - 1, through: 0, by: -1) {
                        for e in 0..<batch {
                            let state = (e * T + t) * H, gates = (e * T + t) * G, own = e * H
                            for k in 0..<H {
                                let previous = t > 0 ? hp[state - H + k] : 0
                                let grad = dhp[state + k] + carry[own + k]
                                let z = zb[state + k], n = nb[state + k]
                                dpre[gates + k] = grad * (n - previous) * z * (1 - z)
                                dpre[gates + 2 * H + k] = grad * z * (1 - n * n)
                                dprev[own + k] = grad * (1 - z)
                            }
                        }
                        // Candidate: through (r ⊙ h_{t-1}) Un.
                        drhb.update(repeating: 0)
                        Matrix.multiplyAdd(dpre + t * G + 2 * H, lda: T * G, ut + 2 * H * H, ldb: H, into: drh, ldc: H, m: batch, n: H, k: H)
                        Matrix.multiplyAddTransposed(rhb.baseAddress! + t * H, lda: T * H, dpre + t * G + 2 * H, ldb: T * G,
                                                     into: du + 2 * H, ldc: G, m: batch, n: H, k: H)
                        for e in 0..<batch {
                            let state = (e * T + t) * H, gates = (e * T + t) * G, own = e * H
                            for k in 0..<H {
                                let previous = t > 0 ? hp[state - H + k] : 0
                                let r = rb[state + k]
                                dpre[gates + H + k] = drh[own + k] * previous * r * (1 - r)
                                dprev[own + k] += drh[own + k] * r
                            }
                        }
                        // Gates z and r: through h_{t-1} Uz and h_{t-1} Ur (h_{-1} = 0 adds nothing).
                        if t > 0 {
                            Matrix.multiplyAdd(dpre + t * G, lda: T * G, ut, ldb: H, into: dprev, ldc: H, m: batch, n: H, k: 2 * H)
                            Matrix.multiplyAddTransposed(hp + (t - 1) * H, lda: T * H, dpre + t * G, ldb: T * G,
                                                         into: du, ldc: G, m: batch, n: 2 * H, k: H)
                        }
                        carry.update(from: dprev, count: batch * H)
                    }
                    dx.withUnsafeMutableBufferPointer { dxp in
                        Matrix.projectBackward(xp.baseAddress!, weights: wp, dpre: dpre, dw: dw, db: db, dx: inputGradient ? dxp.baseAddress! : nil,
                                               scratch: wtb.baseAddress, rows: batch * T, inputs: F, outputs: G)
                    }
                }}}}}}}}}}}}}
            }
        }
        return dx
    }
}
