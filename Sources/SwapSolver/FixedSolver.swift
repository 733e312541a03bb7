import Foundation

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
    /// Nodes are independent, so ranges of them are solved on separate threads,
    /// each writing only its own instances' allocations.
    static func solve(_ problem: SwapProblem, curves: AllocationCurves, node: [Int], chunks requested: Int? = nil) -> SwapSolution {
        solveWithPrices(problem, curves: curves, node: node, chunks: requested).solution
    }

    /// The same, with each node-resource's marginal price (see `NodeBook.allocate`).
    static func solveWithPrices(_ problem: SwapProblem, curves: AllocationCurves, node: [Int],
                                chunks requested: Int? = nil) -> (solution: SwapSolution, prices: [Double]) {
        let chunks = max(1, min(problem.nodeCount, requested ?? (problem.nodeCount >= 512 ? min(8, ProcessInfo.processInfo.activeProcessorCount) : 1)))
        let ranges = (0..<chunks).map { k in (problem.nodeCount * k / chunks)..<(problem.nodeCount * (k + 1) / chunks) }
        var allocation = problem.allocation
        var prices = [Double](repeating: 0, count: problem.nodeCount * problem.resourceCount)
        var objectives = [Double](repeating: 0, count: chunks)
        var reasons = [String?](repeating: nil, count: chunks)
        allocation.withUnsafeMutableBufferPointer { allocationBuffer in
            prices.withUnsafeMutableBufferPointer { pricesBuffer in
                objectives.withUnsafeMutableBufferPointer { objectivesBuffer in
                    reasons.withUnsafeMutableBufferPointer { reasonsBuffer in
                        // Each range writes only its own nodes' instances, prices and slot k.
                        nonisolated(unsafe) let (allocationOut, pricesOut, objectiveOut, reasonOut) =
                            (allocationBuffer, pricesBuffer, objectivesBuffer, reasonsBuffer)
                        DispatchQueue.concurrentPerform(iterations: chunks) { k in
                            let book = NodeBook(problem: problem, curves: curves, node: node, building: ranges[k])
                            if let reason = overload(problem, book: book, nodes: ranges[k]) {
                                reasonOut[k] = reason
                                return
                            }
                            var objective = 0.0
                            for n in ranges[k] {
                                book.allocate(n, into: allocationOut, prices: pricesOut)
                                objective += book.cost(n)
                            }
                            objectiveOut[k] = objective
                        }
                    }
                }
            }
        }
        if let reason = reasons.compactMap({ $0 }).first {
            return (.infeasible(reason, problem: problem), prices)
        }
        var objective = objectives.reduce(0, +)
        for i in 0..<problem.instanceCount where node[i] != problem.node[i] {
            objective += problem.migrationCost[i]
        }
        return (SwapSolution(status: .optimal, objective: objective, lowerBound: objective,
                             node: node, allocation: allocation), prices)
    }

    /// Names the first node and resource whose lowest feasible allocations
    /// exceed capacity minus reserve.
    static func overload(_ problem: SwapProblem, book: NodeBook, nodes: Range<Int>? = nil) -> String? {
        let R = problem.resourceCount
        for n in nodes ?? 0..<problem.nodeCount where book.isOverloaded(n) {
            for r in 0..<R {
                let need = book.members[n].reduce(0.0) { $0 + book.curves.lo[Int($1) * R + r] }
                let usable = problem.usable(node: n, r)
                let whole = NodeBook.budget(usable: usable, low: 0, integral: problem.integral[r])
                if need > whole + NodeBook.tolerance(usable) {
                    return "node \(problem.nodeIDs[n]) \(problem.resources[r]): its instances need at least \(need) (SLA minimums, locked allocations and maxChange), capacity minus reserve is \(usable)"
                }
            }
        }
        return nil
    }
}
