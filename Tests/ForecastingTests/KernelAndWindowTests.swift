@testable import Forecasting
import PoolCore
import Testing

@Suite struct MatrixKernelTests {
    /// Random shapes, including ones that are not multiples of the kernels' blocks of four, and
    /// leading dimensions wider than the rows.
    @Test func productsMatchTheTextbookLoops() {
        var random = SplitMix64(seed: 61)
        for _ in 0..<60 {
            let (m, n, k) = (Int.random(in: 1...11, using: &random), Int.random(in: 1...9, using: &random), Int.random(in: 1...10, using: &random))
            let (lda, ldb, ldc) = (k + Int.random(in: 0...2, using: &random), n + Int.random(in: 0...2, using: &random), n + Int.random(in: 0...2, using: &random))
            let a = (0..<(m * lda)).map { _ in Double.random(in: -1...1, using: &random) }
            let b = (0..<(k * ldb)).map { _ in Double.random(in: -1...1, using: &random) }
            var c = (0..<(m * ldc)).map { _ in Double.random(in: -1...1, using: &random) }
            var expected = c
            for row in 0..<m { for i in 0..<n { for j in 0..<k { expected[row * ldc + i] += a[row * lda + j] * b[j * ldb + i] } } }
            a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
                Matrix.multiplyAdd(ap.baseAddress!, lda: lda, bp.baseAddress!, ldb: ldb, into: cp.baseAddress!, ldc: ldc, m: m, n: n, k: k)
            } } }
            #expect(zip(c, expected).allSatisfy { abs($0 - $1) < 1e-12 }, "a·b, m \(m) n \(n) k \(k)")

            // aᵀ·b for a [m×k] and b [m×n] (b with c's leading dimension, the result with b's).
            let bm = (0..<(m * ldc)).map { _ in Double.random(in: -1...1, using: &random) }
            var t = (0..<(k * ldb)).map { _ in Double.random(in: -1...1, using: &random) }
            var expectedT = t
            for j in 0..<k { for i in 0..<n { for row in 0..<m { expectedT[j * ldb + i] += a[row * lda + j] * bm[row * ldc + i] } } }
            a.withUnsafeBufferPointer { ap in bm.withUnsafeBufferPointer { bp in t.withUnsafeMutableBufferPointer { tp in
                Matrix.multiplyAddTransposed(ap.baseAddress!, lda: lda, bp.baseAddress!, ldb: ldc, into: tp.baseAddress!, ldc: ldb, m: m, n: n, k: k)
            } } }
            #expect(zip(t, expectedT).allSatisfy { abs($0 - $1) < 1e-12 }, "aᵀ·b, m \(m) n \(n) k \(k)")
        }
    }
}

@Suite struct ResidualWindowTests {
    /// A window that keeps a sorted copy answers exactly as one that selects, through fills,
    /// evictions and repeated values.
    @Test func theSortedCopyAnswersAsSelectionDoes() {
        var random = SplitMix64(seed: 62)
        var kept = ResidualWindow(capacity: 37), selected = ResidualWindow(capacity: 37, keepsSorted: false)
        var scratch: [Double] = []
        for step in 0..<400 {
            let value = Double(Int.random(in: -20...20, using: &random)) / 4
            kept.append(value)
            selected.append(value)
            if step % 7 == 0 { kept.append(.nan) } // not a residual: ignored
            #expect(kept.count == selected.count)
            for level in [0.5, 0.8, 0.9, 0.95, 0.999] {
                #expect(kept.conformalQuantile(level: level, scratch: &scratch) == selected.conformalQuantile(level: level, scratch: &scratch))
            }
            let a = kept.bounds(levels: IntervalForecast.levels, scratch: &scratch), b = selected.bounds(levels: IntervalForecast.levels, scratch: &scratch)
            #expect(a.lower == b.lower && a.upper == b.upper)
        }
    }
}
