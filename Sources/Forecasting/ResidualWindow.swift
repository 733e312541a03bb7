/// The last `capacity` forecast residuals (actual minus point) of one horizon; empirical
/// quantiles of them calibrate the intervals (split conformal prediction on a rolling window).
///
/// A window that is asked for quantiles every slot keeps a sorted copy beside the arrival
/// order (`keepsSorted`), so that each quantile is a lookup; a large pool asked rarely does not,
/// and selects instead.
public struct ResidualWindow: Sendable {
    public let capacity: Int
    private var values: [Double] = []
    private var next = 0
    /// The same values ascending, when kept.
    private var sorted: [Double]?

    public init(capacity: Int, keepsSorted: Bool = true) {
        precondition(capacity > 0)
        self.capacity = capacity
        values.reserveCapacity(capacity)
        if keepsSorted {
            sorted = []
            sorted!.reserveCapacity(capacity)
        }
    }

    public var count: Int { values.count }

    /// Adds a residual, dropping the oldest once full; NaN is not a residual and is ignored.
    public mutating func append(_ residual: Double) {
        guard !residual.isNaN else { return }
        if values.count < capacity {
            values.append(residual)
        } else {
            let leaving = values[next]
            values[next] = residual
            next = (next + 1) % capacity
            if sorted != nil { sorted!.remove(at: firstIndex(notBelow: leaving, in: sorted!)) }
        }
        if sorted != nil { sorted!.insert(residual, at: firstIndex(notBelow: residual, in: sorted!)) }
    }

    /// The element of rank `rank` (0-based, clamped) in ascending order.
    private func element(rank: Int, scratch: inout [Double]) -> Double {
        let rank = min(values.count - 1, max(0, rank))
        if let sorted { return sorted[rank] }
        scratch = values
        return selectRank(&scratch, rank)
    }

    /// The conformal quantile of the window for one-sided coverage `level`: its k-th smallest
    /// value, k = ceil((n+1)·level), clamped to the sample.
    public func conformalQuantile(level: Double, scratch: inout [Double]) -> Double {
        precondition(!values.isEmpty)
        let k = Int((Double(values.count + 1) * level).rounded(.up))
        return element(rank: k - 1, scratch: &scratch)
    }

    /// Lower and upper residual quantiles for each central level (e.g. 0.9 → the 5% and 95%
    /// quantiles), with the finite-sample correction of split conformal prediction.
    public func bounds(levels: [Double], scratch: inout [Double]) -> (lower: [Double], upper: [Double]) {
        precondition(!values.isEmpty)
        let n = Double(values.count)
        var lower: [Double] = []
        var upper: [Double] = []
        for level in levels {
            let tail = (1 - level) / 2
            // Conformal: the k-th smallest residual above, k = ceil((n+1)(1-tail)), and the
            // k-th largest below (0-based ranks k-1 and n-k), clamped to the sample.
            let k = Int(((n + 1) * (1 - tail)).rounded(.up))
            lower.append(element(rank: values.count - k, scratch: &scratch))
            upper.append(element(rank: k - 1, scratch: &scratch))
        }
        return (lower, upper)
    }
}
