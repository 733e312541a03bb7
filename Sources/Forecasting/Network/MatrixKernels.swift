/// The few dense kernels the networks need, over unsafe buffers (no bounds checks or
/// allocation in the loops). Matrices are row-major.

/// `out[b, i] += sum_j w[i, j] * x[b, j]` for b < batch: out [batch, rows], w [rows, cols], x [batch, cols] with row stride `xStride`.
@inline(__always)
func addMatrixVectorProducts(
    _ out: UnsafeMutablePointer<Double>, _ w: UnsafePointer<Double>, _ x: UnsafePointer<Double>,
    batch: Int, rows: Int, cols: Int, xStride: Int, outStride: Int
) {
    for b in 0..<batch {
        let xb = x + b * xStride
        let ob = out + b * outStride
        for i in 0..<rows {
            let wi = w + i * cols
            var sum = 0.0
            for j in 0..<cols { sum += wi[j] * xb[j] }
            ob[i] += sum
        }
    }
}

/// Gradient of `out = W x`: `dw[i, j] += sum_b dout[b, i] * x[b, j]` and, when `dx` is given,
/// `dx[b, j] += sum_i w[i, j] * dout[b, i]`.
@inline(__always)
func addMatrixVectorProductGradients(
    dout: UnsafePointer<Double>, w: UnsafePointer<Double>, x: UnsafePointer<Double>,
    dw: UnsafeMutablePointer<Double>, dx: UnsafeMutablePointer<Double>?,
    batch: Int, rows: Int, cols: Int, xStride: Int, doutStride: Int, dxStride: Int
) {
    for b in 0..<batch {
        let xb = x + b * xStride
        let db = dout + b * doutStride
        for i in 0..<rows {
            let g = db[i]
            if g == 0 { continue }
            let dwi = dw + i * cols
            for j in 0..<cols { dwi[j] += g * xb[j] }
        }
        if let dx {
            let dxb = dx + b * dxStride
            for i in 0..<rows {
                let g = db[i]
                if g == 0 { continue }
                let wi = w + i * cols
                for j in 0..<cols { dxb[j] += wi[j] * g }
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@inline(__always) func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }
