/// Which instances sit on which node, and for every node and resource the
/// exact least cost of sharing its capacity among them: each instance starts
/// at its lowest feasible allocation and the capacity left goes to the
/// segments with the most negative slopes first. For a convex piecewise-linear
/// cost under one sum constraint this greedy fill is optimal; for integral
/// resources the segments have whole lengths and the budget is rounded down,
/// so it stays optimal.
struct NodeBook: Sendable {
    struct Segment: Sendable {
        var slope: Double
        var length: Double
        var owner: Int32
    }

    /// Cost of a node-resource whose lowest allocations already exceed its
    /// capacity, per unit of excess: large enough that any search leaves it.
    static let overloadPenalty = 1e9

    let curves: AllocationCurves
    let resourceCount: Int
    let usable: [Double]
    let integral: [Bool]
    private(set) var members: [[Int32]]
    /// Per `[node * R + r]`: all members' negative segments sorted by slope,
    /// the sum of their costs at `lo` and the sum of their `lo`.
    private(set) var segments: [[Segment]]
    private(set) var baseSum: [Double]
    private(set) var loSum: [Double]

    /// `building` limits the per-node tables to those nodes (the others stay
    /// empty), so that disjoint ranges can be built on separate threads.
    init(problem p: SwapProblem, curves: AllocationCurves, node: [Int], building: Range<Int>? = nil) {
        self.curves = curves
        resourceCount = p.resourceCount
        integral = p.integral
        usable = (0..<(p.nodeCount * p.resourceCount)).map { p.capacity[$0] - p.reserve[$0] }
        members = Array(repeating: [], count: p.nodeCount)
        for i in 0..<p.instanceCount { members[node[i]].append(Int32(i)) }
        segments = Array(repeating: [], count: p.nodeCount * p.resourceCount)
        baseSum = Array(repeating: 0, count: p.nodeCount * p.resourceCount)
        loSum = Array(repeating: 0, count: p.nodeCount * p.resourceCount)
        for n in building ?? 0..<p.nodeCount { rebuild(n) }
    }

    mutating func move(_ i: Int, from p: Int, to q: Int) {
        members[p].removeAll { $0 == Int32(i) }
        members[q].append(Int32(i))
        rebuild(p)
        rebuild(q)
    }

    private mutating func rebuild(_ n: Int) {
        for r in 0..<resourceCount {
            let nr = n * resourceCount + r
            var list = [Segment]()
            var base = 0.0, low = 0.0
            for i in members[n] {
                let k = Int(i) * resourceCount + r
                base += curves.base[k]
                low += curves.lo[k]
                for s in Int(curves.segmentStart[k])..<Int(curves.segmentStart[k + 1]) {
                    list.append(Segment(slope: curves.slope[s], length: curves.length[s], owner: i))
                }
            }
            list.sort { $0.slope < $1.slope }
            segments[nr] = list
            baseSum[nr] = base
            loSum[nr] = low
        }
    }

    /// Capacity left for growth above everybody's `lo`; negative when overloaded.
    @inline(__always)
    private func budget(_ nr: Int, low: Double) -> Double {
        Self.budget(usable: usable[nr], low: low, integral: integral[nr % resourceCount])
    }

    /// What `usable` leaves above lowest allocations summing to `low`, in whole units (rounded
    /// down) for an integral resource; negative when overloaded.
    @inline(__always)
    static func budget(usable: Double, low: Double, integral: Bool) -> Double {
        let b = usable - low
        return integral ? (b + tolerance(usable)).rounded(.down) : b
    }

    /// How far a sum may exceed capacity before it counts as over (rounding in sums).
    @inline(__always)
    static func tolerance(_ usable: Double) -> Double { 1e-9 * max(1, abs(usable)) }

    /// Least cost of node `n`, resource `r`, for its members without
    /// `excluding` and with `including` (instance indices; -1 for none).
    func cost(_ n: Int, _ r: Int, excluding: Int = -1, including: Int = -1) -> Double {
        let nr = n * resourceCount + r
        var base = baseSum[nr], low = loSum[nr]
        var extraStart = 0, extraEnd = 0
        if excluding >= 0 {
            let k = excluding * resourceCount + r
            base -= curves.base[k]; low -= curves.lo[k]
        }
        if including >= 0 {
            let k = including * resourceCount + r
            base += curves.base[k]; low += curves.lo[k]
            extraStart = Int(curves.segmentStart[k]); extraEnd = Int(curves.segmentStart[k + 1])
        }
        var remaining = budget(nr, low: low)
        if remaining < -Self.tolerance(usable[nr]) {
            return base + Self.overloadPenalty * -remaining
        }
        var cost = base
        let excluded = Int32(excluding)
        segments[nr].withUnsafeBufferPointer { list in
            var a = 0, e = extraStart
            while remaining > 0 {
                let fromList: Bool
                while a < list.count && list[a].owner == excluded { a += 1 }
                if a < list.count {
                    fromList = e >= extraEnd || list[a].slope <= curves.slope[e]
                } else if e < extraEnd {
                    fromList = false
                } else {
                    break
                }
                let slope: Double, length: Double
                if fromList { slope = list[a].slope; length = list[a].length; a += 1 }
                else { slope = curves.slope[e]; length = curves.length[e]; e += 1 }
                let take = min(length, remaining)
                cost += slope * take
                remaining -= take
            }
        }
        return cost
    }

    /// Total least cost of node `n` over all resources.
    func cost(_ n: Int, excluding: Int = -1, including: Int = -1) -> Double {
        var total = 0.0
        for r in 0..<resourceCount { total += cost(n, r, excluding: excluding, including: including) }
        return total
    }

    /// How far the lowest allocations of `n`'s members exceed its capacity, summed over resources.
    func excess(_ n: Int) -> Double {
        (0..<resourceCount).reduce(0) { total, r in
            let nr = n * resourceCount + r
            let b = budget(nr, low: loSum[nr])
            return total + (b < -Self.tolerance(usable[nr]) ? -b : 0)
        }
    }

    /// True when some resource of `n` cannot hold the lowest allocations of
    /// its members without `excluding` and with `including`.
    func isOverloaded(_ n: Int, excluding: Int = -1, including: Int = -1) -> Bool {
        (0..<resourceCount).contains { r in
            let nr = n * resourceCount + r
            var low = loSum[nr]
            if excluding >= 0 { low -= curves.lo[excluding * resourceCount + r] }
            if including >= 0 { low += curves.lo[including * resourceCount + r] }
            return budget(nr, low: low) < -Self.tolerance(usable[nr])
        }
    }

    /// The optimal allocations of node `n`'s members, written into `allocation`
    /// (flat, `[instance * R + r]`), and, when asked, each resource's marginal
    /// price: the negated slope of the segment capacity ran out in (or of the
    /// first one it could not reach) when capacity binds, else 0. Threads may
    /// fill disjoint nodes of one buffer at once.
    func allocate(_ n: Int, into allocation: UnsafeMutableBufferPointer<Double>, prices: UnsafeMutableBufferPointer<Double>? = nil) {
        for r in 0..<resourceCount {
            let nr = n * resourceCount + r
            for i in members[n] { allocation[Int(i) * resourceCount + r] = curves.lo[Int(i) * resourceCount + r] }
            var remaining = max(0, budget(nr, low: loSum[nr]))
            var price = 0.0
            for segment in segments[nr] {
                if remaining <= 0 { price = -segment.slope; break }
                let take = min(segment.length, remaining)
                allocation[Int(segment.owner) * resourceCount + r] += take
                remaining -= take
                if take < segment.length { price = -segment.slope; break }
            }
            prices?[nr] = price
        }
    }

    func allocate(_ n: Int, into allocation: inout [Double], prices: inout [Double]) {
        allocation.withUnsafeMutableBufferPointer { a in
            prices.withUnsafeMutableBufferPointer { p in allocate(n, into: a, prices: p) }
        }
    }
}
