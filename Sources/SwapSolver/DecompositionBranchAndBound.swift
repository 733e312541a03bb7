/// Proves a migration plan optimal, or finds a better one, with the node-decomposition bound:
/// depth first on the decision of an instance the node minima disagree on (home or away; then
/// which candidate), a few subgradient steps per tree node from the parent's prices, and only
/// the nodes a decision touches solved again. Where the node minima take every instance exactly
/// once they describe a plan: it is costed exactly (`FixedSolver`) and may become the incumbent.
struct DecompositionBranchAndBound {
    let problem: SwapProblem
    let curves: AllocationCurves
    private(set) var decomposition: NodeDecompositionBound
    /// Best known objective and assignment.
    private(set) var upper: Double
    private(set) var incumbent: [Int]
    /// Subgradient steps per tree node.
    var iterations = 10
    /// Most rounds of probing per tree node.
    var probeRounds = 20
    /// Tree nodes entered.
    private(set) var visited = 0
    private var stopped = false

    init(decomposition: NodeDecompositionBound, upper: Double, incumbent: [Int]) {
        self.decomposition = decomposition
        problem = decomposition.problem
        curves = decomposition.curves
        self.upper = upper
        self.incumbent = incumbent
    }

    private var tolerance: Double { SwapSolution.optimalityTolerance * max(1, abs(upper)) }

    /// Searches from the root's dual (after its own steps); returns a proven lower bound on the
    /// optimum (within `SwapSolution.optimalityTolerance` of `upper` when the search finished:
    /// the incumbent is optimal). Stops when the decomposition's work passes its limit.
    mutating func run(from root: NodeDecompositionBound.Dual, shouldStop: () -> Bool) -> Double {
        var dual = root
        return min(upper, visit(&dual, parentBound: root.bound, root: true, shouldStop: shouldStop))
    }

    private mutating func visit(_ dual: inout NodeDecompositionBound.Dual, parentBound: Double, root: Bool,
                                shouldStop: () -> Bool) -> Double {
        // A branch probing dropped was bounded only to within the tolerance of the incumbent:
        // the subtree's bound is no higher than that.
        var dropped = Double.infinity
        let value = explore(&dual, parentBound: parentBound, root: root, dropped: &dropped, shouldStop: shouldStop)
        return min(value, dropped)
    }

    private mutating func explore(_ dual: inout NodeDecompositionBound.Dual, parentBound: Double, root: Bool,
                                  dropped: inout Double, shouldStop: () -> Bool) -> Double {
        if stopped || decomposition.work >= decomposition.workLimit || shouldStop() { stopped = true; return parentBound }
        visited += 1
        if !root, !follow(&dual, shouldStop: shouldStop) { return parentBound }
        var bound = max(parentBound, dual.bound)
        // Within the tolerance of the incumbent: closed (its bound, not the incumbent's value, is returned).
        if bound >= upper - tolerance { return min(bound, upper) }
        // Probing: a disagreed instance whose one branch is already bounded past the incumbent
        // takes the other without a tree node; the prices then follow.
        var strongest = -1, strongestScore = -Double.infinity
        for _ in 0..<probeRounds {
            var fixed = false
            strongest = -1; strongestScore = -.infinity
            // (Only instances that can move are free: `start` fixes the others at home.)
            for i in 0..<problem.instanceCount where dual.count[i] != 1 && dual.decision[i] == LagrangianBound.free {
                if decomposition.work >= decomposition.workLimit || shouldStop() { stopped = true; return bound }
                let home = Int32(problem.node[i])
                let away = decomposition.probe(i, LagrangianBound.away, in: &dual)
                if away >= upper - tolerance { decomposition.decide(i, home, in: &dual); dropped = min(dropped, away); fixed = true; break }
                let stay = decomposition.probe(i, home, in: &dual)
                if stay >= upper - tolerance { decomposition.decide(i, LagrangianBound.away, in: &dual); dropped = min(dropped, stay); fixed = true; break }
                if min(away, stay) > strongestScore { strongestScore = min(away, stay); strongest = i }
            }
            guard fixed else { break }
            if !follow(&dual, shouldStop: shouldStop) { return bound }
            bound = max(bound, dual.bound)
            if bound >= upper - tolerance { return min(bound, upper) }
        }
        var plan: Double?
        if let node = decomposition.assignment(dual), dual.moves <= problem.maxMigrations {
            // The node minima agree: a plan, costed exactly.
            let solution = FixedSolver.solve(problem, curves: curves, node: node)
            decomposition.count(problem.nodeCount)
            plan = solution.status == .infeasible ? .infinity : solution.objective
            if solution.status != .infeasible, solution.objective < upper - tolerance {
                upper = solution.objective
                incumbent = node
                if bound >= upper - tolerance { return min(bound, upper) }
            }
        }
        guard let (i, children) = branching(dual, prefer: strongest) else {
            // Every decision made: the one plan left (none when too many move).
            guard let plan else { return dual.moves > problem.maxMigrations ? upper : min(bound, upper) }
            return min(max(bound, plan), upper)
        }
        var lowest = Double.infinity
        for child in children {
            var next = dual
            decomposition.decide(i, child, in: &next)
            lowest = min(lowest, visit(&next, parentBound: bound, root: false, shouldStop: shouldStop))
            if stopped { lowest = min(lowest, bound) }
        }
        return max(bound, min(lowest, upper))
    }

    /// The subgradient steps of a tree node; false (and the tree stops) when they were cut off
    /// before evaluating anything, so that `dual` still holds its parent's choices.
    private mutating func follow(_ dual: inout NodeDecompositionBound.Dual, shouldStop: () -> Bool) -> Bool {
        _ = decomposition.ascend(&dual, target: upper, iterations: iterations, initialStep: 0.2, stepPatience: 5, shouldStop: shouldStop)
        if dual.dirty.contains(true) { stopped = true; return false }
        return true
    }

    /// The instance to branch on and its children, likeliest first. First one the node minima
    /// disagree on: a free one taken by no node or by several (home, away), or one sent away
    /// and taken by no candidate or by several (each candidate). When they agree, one still
    /// open: a moved one if they move too many, else any free one, else one sent away. Nil when
    /// every decision is made.
    private func branching(_ dual: NodeDecompositionBound.Dual, prefer: Int) -> (Int, [Int32])? {
        let p = problem
        func homeOrAway(_ i: Int) -> (Int, [Int32]) {
            let home = p.node[i]
            return (i, decomposition.took(home, i, dual) ? [Int32(home), LagrangianBound.away] : [LagrangianBound.away, Int32(home)])
        }
        func candidates(_ i: Int) -> (Int, [Int32]) {
            let taking = p.alternatives[i].filter { decomposition.took($0, i, dual) }
            return (i, (taking + p.alternatives[i].filter { !taking.contains($0) }).map { Int32($0) })
        }
        if prefer >= 0 { return homeOrAway(prefer) }
        var moved: Int?, open: Int?, away: Int?
        // Instances that cannot move are fixed at home from the start, so never free or away.
        for i in 0..<p.instanceCount {
            let d = dual.decision[i]
            if d == LagrangianBound.free {
                if dual.count[i] != 1 { return homeOrAway(i) }
                if open == nil { open = i }
                if moved == nil && !decomposition.took(p.node[i], i, dual) { moved = i }
            } else if d == LagrangianBound.away {
                if dual.count[i] != 1 { return candidates(i) }
                if away == nil { away = i }
            }
        }
        if dual.moves > p.maxMigrations, let i = moved { return homeOrAway(i) }
        if let i = open { return homeOrAway(i) }
        if let i = away { return candidates(i) }
        return nil
    }
}
