#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if OpenBLAS
import COpenBLAS
#endif

/// The two matrix products the networks need, over unsafe buffers: row-major, each matrix
/// with its own leading dimension (elements between the starts of consecutive rows), no
/// bounds checks or allocation inside. With the package trait `OpenBLAS` they call
/// `cblas_dgemm` (one thread); otherwise plain Swift loops whose innermost loop adds four
/// scaled rows into one, `c[i] += x0·b0[i] + … + x3·b3[i]`, which the compiler vectorises.
enum Matrix {
    #if OpenBLAS
    /// Training runs one network per core: each product on one thread.
    static let singleThreaded: Void = openblas_set_num_threads(1)
    #endif

    /// `c[m×n] += a[m×k] · b[k×n]`.
    @inline(__always)
    static func multiplyAdd(
        _ a: UnsafePointer<Double>, lda: Int, _ b: UnsafePointer<Double>, ldb: Int,
        into c: UnsafeMutablePointer<Double>, ldc: Int, m: Int, n: Int, k: Int
    ) {
        guard m > 0, n > 0, k > 0 else { return }
        #if OpenBLAS
        _ = singleThreaded
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), 1, c, Int32(ldc))
        #else
        for row in 0..<m {
            let ar = a + row * lda
            let cr = c + row * ldc
            // Four rows of b per pass over a row of c: a quarter of the loads and stores of c.
            var j = 0
            while j + 4 <= k {
                let (x0, x1, x2, x3) = (ar[j], ar[j + 1], ar[j + 2], ar[j + 3])
                let b0 = b + j * ldb, b1 = b0 + ldb, b2 = b1 + ldb, b3 = b2 + ldb
                for i in 0..<n { cr[i] += x0 * b0[i] + x1 * b1[i] + x2 * b2[i] + x3 * b3[i] }
                j += 4
            }
            while j < k {
                let x = ar[j], br = b + j * ldb
                for i in 0..<n { cr[i] += x * br[i] }
                j += 1
            }
        }
        #endif
    }

    /// `c[k×n] += aᵀ · b` for `a[m×k]` and `b[m×n]`: the weight gradient of `a · w`.
    @inline(__always)
    static func multiplyAddTransposed(
        _ a: UnsafePointer<Double>, lda: Int, _ b: UnsafePointer<Double>, ldb: Int,
        into c: UnsafeMutablePointer<Double>, ldc: Int, m: Int, n: Int, k: Int
    ) {
        guard m > 0, n > 0, k > 0 else { return }
        #if OpenBLAS
        _ = singleThreaded
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(k), Int32(n), Int32(m), 1, a, Int32(lda), b, Int32(ldb), 1, c, Int32(ldc))
        #else
        // Four rows of a and b per pass over a row of c.
        var row = 0
        while row + 4 <= m {
            let a0 = a + row * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda
            let b0 = b + row * ldb, b1 = b0 + ldb, b2 = b1 + ldb, b3 = b2 + ldb
            for j in 0..<k {
                let (x0, x1, x2, x3) = (a0[j], a1[j], a2[j], a3[j])
                let cr = c + j * ldc
                for i in 0..<n { cr[i] += x0 * b0[i] + x1 * b1[i] + x2 * b2[i] + x3 * b3[i] }
            }
            row += 4
        }
        while row < m {
            let ar = a + row * lda, br = b + row * ldb
            for j in 0..<k {
                let x = ar[j], cr = c + j * ldc
                for i in 0..<n { cr[i] += x * br[i] }
            }
            row += 1
        }
        #endif
    }

    /// `pre[rows×g] = b + x[rows×f] · w[f×g]`: a layer's affine map, every row (each step of
    /// each example) at once; `ldx` is x's leading dimension (f when packed).
    @inline(__always)
    static func project(_ x: UnsafePointer<Double>, ldx: Int? = nil, weights w: UnsafePointer<Double>, bias b: UnsafePointer<Double>,
                        into pre: UnsafeMutablePointer<Double>, rows: Int, inputs f: Int, outputs g: Int) {
        for row in 0..<rows { for i in 0..<g { pre[row * g + i] = b[i] } }
        multiplyAdd(x, lda: ldx ?? f, w, ldb: g, into: pre, ldc: g, m: rows, n: g, k: f)
    }

    /// The backward pass of `project` given `dpre`: `dw += xᵀ · dpre`, `db +=` the column sums
    /// of `dpre`, and `dx += dpre · wᵀ` (leading dimension `lddx`) when `dx` is given
    /// (`scratch` then holds wᵀ, [g×f]).
    @inline(__always)
    static func projectBackward(_ x: UnsafePointer<Double>, ldx: Int? = nil, weights w: UnsafePointer<Double>, dpre: UnsafePointer<Double>,
                                dw: UnsafeMutablePointer<Double>, db: UnsafeMutablePointer<Double>,
                                dx: UnsafeMutablePointer<Double>?, lddx: Int? = nil,
                                scratch: UnsafeMutablePointer<Double>?, rows: Int, inputs f: Int, outputs g: Int) {
        multiplyAddTransposed(x, lda: ldx ?? f, dpre, ldb: g, into: dw, ldc: g, m: rows, n: g, k: f)
        for row in 0..<rows { for i in 0..<g { db[i] += dpre[row * g + i] } }
        guard let dx, let scratch else { return }
        transpose(w, ldw: g, rows: f, cols: g, into: scratch)
        multiplyAdd(dpre, lda: g, scratch, ldb: f, into: dx, ldc: lddx ?? f, m: rows, n: f, k: g)
    }

    /// `t[cols×rows] = wᵀ` for `w[rows×cols]` (leading dimension `ldw`), so that products
    /// with `wᵀ` run through `multiplyAdd`.
    @inline(__always)
    static func transpose(_ w: UnsafePointer<Double>, ldw: Int, rows: Int, cols: Int, into t: UnsafeMutablePointer<Double>) {
        for r in 0..<rows {
            for c in 0..<cols { t[c * rows + r] = w[r * ldw + c] }
        }
    }
}

@inline(__always) func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }

extension Array where Element == Double {
    /// Makes the array hold `count` elements, all 0, reusing its storage when it can.
    @inline(__always)
    mutating func resetToZeros(count: Int) {
        if self.count == count {
            withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        } else {
            self = [Double](repeating: 0, count: count)
        }
    }
}
