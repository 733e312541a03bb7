/// The last `capacity` forecast residuals (actual minus point) of one horizon; empirical
/// quantiles of them calibrate the intervals (split conformal prediction on a rolling window).
public struct ResidualWindow: Sendable {
    public let capacity: Int
    private var values: [Double] = []
    private var next = 0

    public init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
        values.reserveCapacity(capacity)
    }

    public var count: Int { values.count }

    public mutating func append(_ residual: Double) {
        if values.count < capacity {
            values.append(residual)
        } else {
            values[next] = residual
            next = (next + 1) % capacity
        }
    }

    /// The conformal quantile of the window for one-sided coverage `level`: its k-th smallest
    /// value, k = ceil((n+1)·level), clamped to the sample.
    public func conformalQuantile(level: Double, scratch: inout [Double]) -> Double {
        precondition(!values.isEmpty)
        let k = Int((Double(values.count + 1) * level).rounded(.up))
        scratch = values
        return selectRank(&scratch, k - 1)
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
            scratch = values
            lower.append(selectRank(&scratch, values.count - k))
            upper.append(selectRank(&scratch, k - 1))
        }
        return (lower, upper)
    }
}
