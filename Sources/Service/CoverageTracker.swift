import Forecasting

/// How often an instance's past intervals held what came, per resource,
/// horizon and level: the coverage `GET /prediction` reports.
struct CoverageTracker: Sendable {
    /// 5, 15 and 30 minutes.
    static let horizonSeconds = ForecastConfiguration.reportedHorizonSeconds
    private struct Pending: Sendable { var target: Int64; var lower: [Double]; var upper: [Double] }
    /// [resource][horizon] → forecasts waiting for their slot.
    private var pending = [[[Pending]]](repeating: [[Pending]](repeating: [], count: 3), count: 3)
    /// [resource][horizon][level]
    private var hits = [[[Int]]](repeating: [[Int]](repeating: [0, 0, 0], count: 3), count: 3)
    private var scored = [[Int]](repeating: [0, 0, 0], count: 3)

    mutating func expect(resource: Int, horizon: Int, target: Int64, lower: [Double], upper: [Double]) {
        pending[resource][horizon].append(Pending(target: target, lower: lower, upper: upper))
    }

    /// Scores every forecast for `slot` against `value` (NaN: nothing came, not scored).
    mutating func observe(resource: Int, slot: Int64, value: Double) {
        for h in 0..<3 {
            while let first = pending[resource][h].first, first.target <= slot {
                pending[resource][h].removeFirst()
                guard first.target == slot, !value.isNaN else { continue }
                scored[resource][h] += 1
                for level in 0..<3 where value >= first.lower[level] - 1e-12 && value <= first.upper[level] + 1e-12 {
                    hits[resource][h][level] += 1
                }
            }
        }
    }

    func coverage(resource: Int, horizon: Int) -> (shares: [Double], scored: Int) {
        let n = scored[resource][horizon]
        return (hits[resource][horizon].map { n == 0 ? .nan : Double($0) / Double(n) }, n)
    }
}
