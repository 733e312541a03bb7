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

    /// Lower and upper residual quantiles for each central level (e.g. 0.9 → the 5% and 95%
    /// quantiles), with the finite-sample correction of split conformal prediction.
    public func bounds(levels: [Double], scratch: inout [Double]) -> (lower: [Double], upper: [Double]) {
        precondition(!values.isEmpty)
        let n = Double(values.count)
        var lower: [Double] = []
        var upper: [Double] = []
        for level in levels {
            let tail = (1 - level) / 2
            // Conformal: the ceil((n+1)(1-tail))/n empirical quantile, clipped to the sample.
            let high = min(1, ((n + 1) * (1 - tail)).rounded(.up) / n)
            let low = max(0, 1 - high)
            scratch = values
            lower.append(selectQuantile(&scratch, low))
            upper.append(selectQuantile(&scratch, high))
        }
        return (lower, upper)
    }
}
