/// The fixed variant (nobody moves) solved exactly: it separates per node and
/// resource into a convex piecewise-linear allocation under one capacity
/// constraint, which `NodeBook` fills greedily by slope.
public enum FixedSolver {
    public static func solve(_ problem: SwapProblem) -> SwapSolution {
        switch AllocationCurves.build(problem) {
        case .failure(let reason):
            return .infeasible(reason.description, problem: problem)
        case .success(let curves):
            return solve(problem, curves: curves, node: problem.node)
        }
    }

    /// The exact allocations for a given assignment of instances to nodes.
    static func solve(_ problem: SwapProblem, curves: AllocationCurves, node: [Int]) -> SwapSolution {
        let book = NodeBook(problem: problem, curves: curves, node: node)
        if let reason = overload(problem, book: book) {
            return .infeasible(reason, problem: problem)
        }
        var allocation = problem.allocation
        var prices = [Double](repeating: 0, count: problem.nodeCount * problem.resourceCount)
        var objective = 0.0
        for n in 0..<problem.nodeCount {
            book.allocate(n, into: &allocation, prices: &prices)
            objective += book.cost(n)
        }
        for i in 0..<problem.instanceCount where node[i] != problem.node[i] {
            objective += problem.migrationCost[i]
        }
        return SwapSolution(status: .optimal, objective: objective, lowerBound: objective,
                            node: node, allocation: allocation)
    }

    /// Names the first node and resource whose lowest feasible allocations
    /// exceed capacity minus reserve.
    static func overload(_ problem: SwapProblem, book: NodeBook) -> String? {
        let R = problem.resourceCount
        for n in 0..<problem.nodeCount where book.isOverloaded(n) {
            for r in 0..<R {
                let need = book.members[n].reduce(0.0) { $0 + book.curves.lo[Int($1) * R + r] }
                let usable = problem.usable(node: n, r)
                let whole = problem.integral[r] ? (usable + NodeBook.tolerance(usable)).rounded(.down) : usable
                if need > whole + NodeBook.tolerance(usable) {
                    return "node \(problem.nodeIDs[n]) \(problem.resources[r]): its instances need at least \(need) (SLA minimums, locked allocations and maxChange), capacity minus reserve is \(usable)"
                }
            }
        }
        return nil
    }
}
