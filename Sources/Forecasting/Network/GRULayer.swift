#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Shapes: B batch, T time steps, F input features, H hidden units.
//
//   z_t = σ(Wz x_t + Uz h_{t-1} + bz)             update gate        [B, H]
//   r_t = σ(Wr x_t + Ur h_{t-1} + br)             reset gate         [B, H]
//   n_t = tanh(Wn x_t + Un (r_t ⊙ h_{t-1}) + bn)  candidate          [B, H]
//   h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ n_t         hidden state       [B, H], h_{-1} = 0
//
// Parameters: w [3H, F] (rows z, r, n), u [3H, H], b [3H].

/// A gated recurrent unit layer.
public struct GRULayer: Sendable, Equatable {
    public let inputs: Int
    public let hidden: Int
    public let w: ParameterBuffer.View
    public let u: ParameterBuffer.View
    public let b: ParameterBuffer.View

    public init(name: String, inputs: Int, hidden: Int, parameters: inout ParameterBuffer) {
        self.inputs = inputs
        self.hidden = hidden
        w = parameters.add("\(name).w", shape: [3 * hidden, inputs])
        u = parameters.add("\(name).u", shape: [3 * hidden, hidden])
        b = parameters.add("\(name).b", shape: [3 * hidden])
    }

    /// What the backward pass needs from the forward pass.
    public struct Cache: Sendable {
        public var batch: Int
        public var steps: Int
        /// Hidden states h_t [B, T, H].
        public var h: [Double]
        var z: [Double]
        var r: [Double]
        var n: [Double]
        /// r_t ⊙ h_{t-1} [B, T, H].
        var rh: [Double]
    }

    /// x [B, T, F] → cache holding h [B, T, H].
    public func forward(_ parameters: ParameterBuffer, x: [Double], batch: Int, steps: Int) -> Cache {
        precondition(x.count == batch * steps * inputs, "x must be [B, T, F]")
        let H = hidden, F = inputs
        let size = batch * steps * H
        var h = [Double](repeating: 0, count: size), z = h, r = h, n = h, rh = h
        var pre = [Double](repeating: 0, count: 3 * H)       // one example's W x_t + b
        var recurrent = [Double](repeating: 0, count: 3 * H) // its U-products
        let zero = [Double](repeating: 0, count: H)
        parameters.values.withUnsafeBufferPointer { p in
            let wp = p.baseAddress! + w.offset, up = p.baseAddress! + u.offset, bp = p.baseAddress! + b.offset
            x.withUnsafeBufferPointer { xp in
            h.withUnsafeMutableBufferPointer { hp in
            z.withUnsafeMutableBufferPointer { zp in
            r.withUnsafeMutableBufferPointer { rp in
            n.withUnsafeMutableBufferPointer { np in
            rh.withUnsafeMutableBufferPointer { rhp in
            pre.withUnsafeMutableBufferPointer { pp in
            recurrent.withUnsafeMutableBufferPointer { up2 in
            zero.withUnsafeBufferPointer { zerop in
                for e in 0..<batch {
                    for t in 0..<steps {
                        let state = (e * steps + t) * H
                        let previous = t == 0 ? zerop.baseAddress! : UnsafePointer(hp.baseAddress! + state - H)
                        for i in 0..<3 * H { pp[i] = bp[i]; up2[i] = 0 }
                        addMatrixVectorProducts(pp.baseAddress!, wp, xp.baseAddress! + (e * steps + t) * F, batch: 1, rows: 3 * H, cols: F, xStride: F, outStride: 3 * H)
                        addMatrixVectorProducts(up2.baseAddress!, up, previous, batch: 1, rows: 2 * H, cols: H, xStride: H, outStride: 2 * H)
                        for k in 0..<H {
                            zp[state + k] = sigmoid(pp[k] + up2[k])
                            rp[state + k] = sigmoid(pp[H + k] + up2[H + k])
                            rhp[state + k] = rp[state + k] * previous[k]
                        }
                        addMatrixVectorProducts(up2.baseAddress! + 2 * H, up + 2 * H * H, rhp.baseAddress! + state, batch: 1, rows: H, cols: H, xStride: H, outStride: H)
                        for k in 0..<H {
                            let candidate = tanh(pp[2 * H + k] + up2[2 * H + k])
                            np[state + k] = candidate
                            let gate = zp[state + k]
                            hp[state + k] = (1 - gate) * previous[k] + gate * candidate
                        }
                    }
                }
            }}}}}}}}}
        }
        return Cache(batch: batch, steps: steps, h: h, z: z, r: r, n: n, rh: rh)
    }

    /// Given dL/dh [B, T, H], adds dL/dparameters into `gradients` and returns dL/dx [B, T, F].
    public func backward(_ parameters: ParameterBuffer, x: [Double], cache: Cache, dh: [Double], gradients: inout ParameterBuffer) -> [Double] {
        let H = hidden, F = inputs, batch = cache.batch, steps = cache.steps
        precondition(dh.count == batch * steps * H, "dh must be [B, T, H]")
        var dx = [Double](repeating: 0, count: batch * steps * F)
        var dpre = [Double](repeating: 0, count: 3 * H)   // dL/d(pre-activations) of z, r, n
        var carry = [Double](repeating: 0, count: H)      // dL/dh_t flowing back from t + 1
        var drh = [Double](repeating: 0, count: H)
        var dprevious = [Double](repeating: 0, count: H)
        let zero = [Double](repeating: 0, count: H)
        parameters.values.withUnsafeBufferPointer { p in
            let wp = p.baseAddress! + w.offset, up = p.baseAddress! + u.offset
            gradients.values.withUnsafeMutableBufferPointer { g in
                let dw = g.baseAddress! + w.offset, du = g.baseAddress! + u.offset, db = g.baseAddress! + b.offset
                for e in 0..<batch {
                    for k in 0..<H { carry[k] = 0 }
                    for t in stride(from: steps - 1, through: 0, by: -1) {
                        let state = (e * steps + t) * H
                        let previous: [Double] = t == 0 ? zero : Array(cache.h[(state - H)..<state])
                        for k in 0..<H {
                            let grad = dh[state + k] + carry[k]
                            let z = cache.z[state + k], n = cache.n[state + k]
                            dpre[k] = grad * (n - previous[k]) * z * (1 - z)
                            dpre[2 * H + k] = grad * z * (1 - n * n)
                            dprevious[k] = grad * (1 - z)
                            drh[k] = 0
                        }
                        // Candidate: through Un (r ⊙ h_{t-1}).
                        dpre.withUnsafeBufferPointer { dp in
                            cache.rh.withUnsafeBufferPointer { rhp in
                                drh.withUnsafeMutableBufferPointer { drp in
                                    addMatrixVectorProductGradients(dout: dp.baseAddress! + 2 * H, w: up + 2 * H * H, x: rhp.baseAddress! + state,
                                                                    dw: du + 2 * H * H, dx: drp.baseAddress!, batch: 1, rows: H, cols: H, xStride: H, doutStride: H, dxStride: H)
                                }
                            }
                        }
                        for k in 0..<H {
                            let r = cache.r[state + k]
                            dpre[H + k] = drh[k] * previous[k] * r * (1 - r)
                            dprevious[k] += drh[k] * r
                        }
                        // Gates z and r: through Uz h_{t-1} and Ur h_{t-1}.
                        dpre.withUnsafeBufferPointer { dp in
                            previous.withUnsafeBufferPointer { hp in
                                dprevious.withUnsafeMutableBufferPointer { dpp in
                                    addMatrixVectorProductGradients(dout: dp.baseAddress!, w: up, x: hp.baseAddress!, dw: du, dx: dpp.baseAddress!,
                                                                    batch: 1, rows: 2 * H, cols: H, xStride: H, doutStride: 2 * H, dxStride: H)
                                }
                            }
                            x.withUnsafeBufferPointer { xp in
                                dx.withUnsafeMutableBufferPointer { dxp in
                                    let offset = (e * steps + t) * F
                                    addMatrixVectorProductGradients(dout: dp.baseAddress!, w: wp, x: xp.baseAddress! + offset, dw: dw, dx: dxp.baseAddress! + offset,
                                                                    batch: 1, rows: 3 * H, cols: F, xStride: F, doutStride: 3 * H, dxStride: F)
                                }
                            }
                        }
                        for i in 0..<3 * H { db[i] += dpre[i] }
                        carry = dprevious
                    }
                }
            }
        }
        return dx
    }
}
