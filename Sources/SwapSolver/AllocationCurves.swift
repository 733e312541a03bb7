/// Every instance's cost of each resource as a convex piecewise-linear curve
/// over its feasible range: the cost at the lowest feasible allocation `lo`,
/// then the segments above it whose slope is negative (growing pays), in order.
/// Segments with slope ≥ 0 are left out: no optimum ever takes them.
///
/// Feasible range per instance and resource: `[max(min, a0 - maxChange),
/// min(max, a0 + maxChange)]`, rounded inwards for integral resources, and
/// the single point `a0` when locked.
public struct AllocationCurves: Sendable {
    public let resourceCount: Int
    /// Lowest and highest feasible allocation, flat `[instance * R + r]`.
    public private(set) var lo: [Double]
    public private(set) var hi: [Double]
    /// Cost at `lo`.
    public private(set) var base: [Double]
    /// Segments of `[instance * R + r]` are `segmentStart[k] ..< segmentStart[k + 1]`.
    public private(set) var segmentStart: [Int32]
    public private(set) var slope: [Double]
    public private(set) var length: [Double]

    /// Builds the curves, or returns why an instance has no feasible allocation.
    public static func build(_ p: SwapProblem) -> Result<AllocationCurves, InfeasibleReason> {
        var curves = AllocationCurves(resourceCount: p.resourceCount)
        let count = p.instanceCount * p.resourceCount
        curves.lo.reserveCapacity(count)
        curves.hi.reserveCapacity(count)
        curves.base.reserveCapacity(count)
        curves.segmentStart.reserveCapacity(count + 1)
        curves.slope.reserveCapacity(count * 2)
        curves.length.reserveCapacity(count * 2)
        curves.segmentStart.append(0)
        var keys: [Double] = []
        keys.reserveCapacity(8)
        for i in 0..<p.instanceCount {
            for r in 0..<p.resourceCount {
                let k = i * p.resourceCount + r
                let a0 = p.allocation[k], d = p.demand[k]
                var low: Double, high: Double
                if p.locked[i] {
                    guard a0 >= p.minimum[k] - 1e-9, a0 <= p.maximum[k] + 1e-9 else {
                        return .failure(InfeasibleReason(
                            "instance \(p.instanceIDs[i]) \(p.resources[r]): locked at \(a0), outside its SLA range [\(p.minimum[k]), \(p.maximum[k])]"))
                    }
                    guard !p.integral[r] || a0 == a0.rounded() else {
                        return .failure(InfeasibleReason(
                            "instance \(p.instanceIDs[i]) \(p.resources[r]): locked at \(a0), which is not whole"))
                    }
                    low = a0; high = a0
                } else {
                    low = max(p.minimum[k], a0 - p.maxChange[r])
                    high = min(p.maximum[k], a0 + p.maxChange[r])
                    if p.integral[r] {
                        low = (low - 1e-9).rounded(.up)
                        high = (high + 1e-9).rounded(.down)
                    }
                    if low > high + 1e-9 {
                        return .failure(InfeasibleReason(
                            "instance \(p.instanceIDs[i]) \(p.resources[r]): no allocation meets SLA range [\(p.minimum[k]), \(p.maximum[k])] within maxChange \(p.maxChange[r]) of \(a0)"
                            + (p.integral[r] ? " in whole units" : "")))
                    }
                    high = max(low, high)
                }
                curves.lo.append(low)
                curves.hi.append(high)
                var previousCost = p.cost(instance: i, r, amount: low)
                curves.base.append(previousCost)
                if high > low {
                    keys.removeAll(keepingCapacity: true)
                    if p.integral[r] {
                        keys.append(d.rounded(.down)); keys.append(d.rounded(.up))
                        keys.append(a0.rounded(.down)); keys.append(a0.rounded(.up))
                    } else {
                        keys.append(d); keys.append(a0)
                    }
                    keys.append(high)
                    keys.sort()
                    var previous = low
                    // Above max(demand, current) the slope is waste + change ≥ 0, so an
                    // unbounded `high` adds nothing.
                    for key in keys where key > previous && key <= high && key.isFinite {
                        let cost = p.cost(instance: i, r, amount: key)
                        let s = (cost - previousCost) / (key - previous)
                        if s >= 0 { break }
                        curves.slope.append(s)
                        curves.length.append(key - previous)
                        previous = key
                        previousCost = cost
                    }
                }
                curves.segmentStart.append(Int32(curves.slope.count))
            }
        }
        return .success(curves)
    }

    private init(resourceCount: Int) {
        self.resourceCount = resourceCount
        lo = []; hi = []; base = []; segmentStart = []; slope = []; length = []
    }

    /// The least cost of instance-resource `k` when each unit costs `price`
    /// on top of the curve, and the allocation reaching it.
    @inlinable
    public func cheapest(_ k: Int, price: Double) -> (cost: Double, amount: Double) {
        var cost = base[k] + price * lo[k]
        var amount = lo[k]
        for s in Int(segmentStart[k])..<Int(segmentStart[k + 1]) {
            let step = slope[s] + price
            if step >= 0 { break }
            cost += step * length[s]
            amount += length[s]
        }
        return (cost, amount)
    }
}

/// Why a problem has no feasible solution, naming instance or node and resource.
public struct InfeasibleReason: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
