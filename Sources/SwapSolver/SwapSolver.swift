/// Solves a swap problem: exactly when nobody can move, by exhaustive search
/// over move sets when they are few, and otherwise by local search with a
/// Lagrangian lower bound that certifies the gap.
public struct SwapSolver: Sendable {
    /// Most move sets searched exhaustively (each solved exactly).
    public var exhaustiveLimit = 200_000
    /// Most subgradient steps spent on the lower bound.
    public var boundIterations = 300

    public init() {}

    /// `shouldStop` is asked now and then; once it says true the solver
    /// returns the best solution it has, with its gap.
    public func solve(_ problem: SwapProblem, shouldStop: () -> Bool = { false }) -> SwapSolution {
        let curves: AllocationCurves
        switch AllocationCurves.build(problem) {
        case .failure(let reason): return .infeasible(reason.description, problem: problem)
        case .success(let built): curves = built
        }
        if problem.isFixed {
            return FixedSolver.solve(problem, curves: curves, node: problem.node)
        }
        if let reason = immovableOverload(problem, curves: curves) {
            return .infeasible(reason, problem: problem)
        }
        if MoveEnumeration.count(problem, limit: exhaustiveLimit) != nil,
           case let (node, complete) = MoveEnumeration.best(problem, curves: curves, shouldStop: shouldStop), complete {
            let solution = FixedSolver.solve(problem, curves: curves, node: node)
            if solution.status == .infeasible {
                return .infeasible("no set of at most \(problem.maxMigrations) migrations fits every node; without them: "
                                   + (solution.reason ?? ""), problem: problem)
            }
            return solution
        }
        var search = MigrationSearch(problem: problem, curves: curves)
        search.run(shouldStop: shouldStop)
        let solved = FixedSolver.solveWithPrices(problem, curves: curves, node: search.node)
        var solution = solved.solution
        guard solution.status != .infeasible else {
            solution.reason = "no feasible assignment found (not proven infeasible): " + (solution.reason ?? "")
            return solution
        }
        let bound = LagrangianBound(problem: problem, curves: curves)
            .maximise(startingAt: solved.prices, target: solution.objective, iterations: boundIterations, shouldStop: shouldStop)
        solution.lowerBound = min(bound, solution.objective)
        solution.status = solution.gap == 0 ? .optimal : .feasible
        return solution
    }

    /// Names a node that cannot hold the lowest allocations of the instances
    /// that can never leave it (locked, or without candidates).
    private func immovableOverload(_ problem: SwapProblem, curves: AllocationCurves) -> String? {
        let R = problem.resourceCount
        var need = [Double](repeating: 0, count: problem.nodeCount * R)
        for i in 0..<problem.instanceCount where problem.locked[i] || problem.alternatives[i].isEmpty {
            for r in 0..<R { need[problem.node[i] * R + r] += curves.lo[i * R + r] }
        }
        for n in 0..<problem.nodeCount {
            for r in 0..<R {
                let usable = problem.usable(node: n, r)
                if need[n * R + r] > usable + 1e-9 * max(1, usable) {
                    return "node \(problem.nodeIDs[n]) \(problem.resources[r]): instances that cannot move need at least \(need[n * R + r]), capacity minus reserve is \(usable)"
                }
            }
        }
        return nil
    }
}
