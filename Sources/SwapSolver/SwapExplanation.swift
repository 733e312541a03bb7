/// Why one instance's allocation of one resource changed, in the model's
/// numbers: demand, old and new allocation, the cost it saves, and what
/// stopped it from going further.
public struct SwapExplanation: Sendable, Equatable {
    public enum Limit: String, Sendable {
        /// The allocation meets the demand exactly.
        case demand
        case slaMinimum
        case slaMaximum
        case maxChange
        /// The node's capacity minus reserve is used up.
        case nodeCapacity
        /// The resource comes in whole units.
        case wholeUnits
        /// Going further would cost more change than it saves.
        case changeCost
    }

    public var instance: String
    public var resource: String
    /// Node after the swap, and before when it moved.
    public var node: String
    public var movedFrom: String?
    public var demand: Double
    public var old: Double
    public var new: Double
    /// Waste, shortfall and change cost of this resource before minus after.
    public var saved: Double
    public var limit: Limit
    /// Marginal value of one more unit on the node when capacity binds.
    public var nodePrice: Double

    public var json: String {
        let q = SwapSolutionCoding.quoted, num = SwapSolutionCoding.number
        var text = "{\"instance\":\(q(instance)),\"resource\":\(q(resource)),\"node\":\(q(node)),"
        if let movedFrom { text += "\"movedFrom\":\(q(movedFrom)),"}
        text += "\"demand\":\(num(demand)),\"old\":\(num(old)),\"new\":\(num(new)),\"saved\":\(num(saved)),\"limit\":\"\(limit.rawValue)\""
        if limit == .nodeCapacity { text += ",\"nodePrice\":\(num(nodePrice))" }
        return text + "}"
    }

    /// One explanation per changed instance-resource (and for each resource of
    /// a moved instance), in instance order.
    public static func explain(_ problem: SwapProblem, _ solution: SwapSolution) -> [SwapExplanation] {
        guard solution.status != .infeasible, case .success(let curves) = AllocationCurves.build(problem) else { return [] }
        let R = problem.resourceCount
        let book = NodeBook(problem: problem, curves: curves, node: solution.node)
        var scratch = solution.allocation
        var prices = [Double](repeating: 0, count: problem.nodeCount * R)
        for n in 0..<problem.nodeCount { book.allocate(n, into: &scratch, prices: &prices) }
        var out: [SwapExplanation] = []
        for i in 0..<problem.instanceCount {
            let n = solution.node[i], moved = n != problem.node[i]
            for r in 0..<R {
                let k = i * R + r
                let a = solution.allocation[k], a0 = problem.allocation[k], d = problem.demand[k]
                let tolerance = 1e-9 * max(1, abs(a0))
                guard moved || abs(a - a0) > tolerance else { continue }
                let limit: Limit
                if abs(a - d) <= 1e-9 * max(1, abs(d)) {
                    limit = .demand
                } else if a > d {
                    if a <= curves.lo[k] + tolerance {
                        limit = problem.minimum[k] >= a0 - problem.maxChange[r] ? .slaMinimum : .maxChange
                    } else {
                        limit = problem.integral[r] ? .wholeUnits : .changeCost
                    }
                } else if a >= curves.hi[k] - tolerance {
                    limit = problem.maximum[k] <= a0 + problem.maxChange[r] ? .slaMaximum : .maxChange
                } else if prices[n * R + r] > 0 {
                    limit = .nodeCapacity
                } else {
                    limit = problem.integral[r] ? .wholeUnits : .changeCost
                }
                out.append(SwapExplanation(
                    instance: problem.instanceIDs[i], resource: problem.resources[r],
                    node: problem.nodeIDs[n], movedFrom: moved ? problem.nodeIDs[problem.node[i]] : nil,
                    demand: d, old: a0, new: a,
                    saved: problem.cost(instance: i, r, amount: a0) - problem.cost(instance: i, r, amount: a),
                    limit: limit, nodePrice: prices[n * R + r]))
            }
        }
        return out
    }
}
