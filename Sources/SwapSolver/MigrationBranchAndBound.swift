/// Proves a migration plan optimal, or finds a better one: depth-first branch and bound on
/// each instance's decision (stay home, or leave for a candidate, then which one), with the
/// Lagrangian bound of the restricted problem at every node, its prices warm-started from the
/// parent. Decisions whose reduced cost exceeds the gap are fixed without branching. A node
/// whose instances are all decided is solved exactly (`FixedSolver`).
struct MigrationBranchAndBound {
    let problem: SwapProblem
    let curves: AllocationCurves
    let lagrangian: LagrangianBound
    /// Best known objective and assignment.
    private(set) var upper: Double
    private(set) var incumbent: [Int]
    /// Subgradient steps per node (from the parent's prices: few suffice; 10 proved medium
    /// problems fastest among 3 to 45).
    var iterations = 10
    /// Lagrangian evaluations done (each weighs every instance).
    private(set) var evaluations = 0
    private(set) var explored = 0
    var evaluationLimit = Int.max
    private var decision: [Int32]
    private var relaxation = LagrangianBound.Relaxation()
    private var stopped = false

    init(problem: SwapProblem, curves: AllocationCurves, upper: Double, incumbent: [Int]) {
        self.problem = problem
        self.curves = curves
        lagrangian = LagrangianBound(problem: problem, curves: curves)
        self.upper = upper
        self.incumbent = incumbent
        decision = (0..<problem.instanceCount).map { i in
            problem.locked[i] || problem.alternatives[i].isEmpty ? Int32(problem.node[i]) : LagrangianBound.free
        }
    }

    private var tolerance: Double { 1e-9 * max(1, abs(upper)) }

    /// Searches from the root's prices and bound; returns a proven lower bound on the optimum
    /// (`upper` when the search finished: the incumbent is optimal).
    mutating func run(prices: [Double], bound: Double, shouldStop: () -> Bool) -> Double {
        min(upper, visit(prices: prices, parentBound: bound, depth: 0, shouldStop: shouldStop))
    }

    /// The lower bound of the subtree under the current decisions.
    private mutating func visit(prices: [Double], parentBound: Double, depth: Int, shouldStop: () -> Bool) -> Double {
        if stopped || evaluations >= evaluationLimit || shouldStop() { stopped = true; return parentBound }
        explored += 1
        let before = evaluations
        var counted = 0
        let (raised, lambda) = lagrangian.maximise(
            startingAt: prices, decision: decision, target: upper, iterations: iterations,
            initialStep: depth == 0 ? 1 : 0.2, relaxation: &relaxation,
            shouldStop: { counted += 1; return false })
        evaluations = before + counted
        let bound = max(parentBound, raised)
        if bound >= upper - tolerance { return upper }
        lagrangian.evaluate(lambda, decision: decision, into: &relaxation)
        evaluations += 1
        let r = relaxation
        // Nothing left free to move: the restricted problem is the fixed variant of one assignment.
        if let leaf = leafObjective(r) { return leaf }
        let gap = upper - r.value
        // Reduced-cost fixing: a decision whose reversal costs the bound more than the gap is taken.
        var fixed: [Int] = []
        let taken = Set(r.gains.prefix(max(0, r.budgetLeft)).map { Int($0.instance) })
        for i in 0..<problem.instanceCount where decision[i] == LagrangianBound.free && r.alternativeNode[i] >= 0 {
            let gain = r.stay[i] - r.alternative[i]
            if taken.contains(i) {
                if gain - r.leftMargin > gap { decision[i] = LagrangianBound.away; fixed.append(i) }
            } else if r.budgetLeft == 0 || r.takenMargin - gain > gap {
                decision[i] = Int32(problem.node[i]); fixed.append(i)
            }
        }
        defer { for i in fixed { decision[i] = LagrangianBound.free } }
        var children: [Int32] = []
        var branched = -1
        if let i = decision.firstIndex(of: LagrangianBound.away) {
            branched = i
            let preferred = r.alternativeNode[i]
            children = [preferred] + problem.alternatives[i].map(Int32.init).filter { $0 != preferred }
        } else if let i = branchingInstance(r, taken: taken) {
            branched = i
            children = taken.contains(i) ? [LagrangianBound.away, Int32(problem.node[i])]
                                         : [Int32(problem.node[i]), LagrangianBound.away]
        }
        guard branched >= 0 else {
            // Nothing left to branch on: the free instances all stay.
            return leafObjective(r) ?? bound
        }
        let saved = decision[branched]
        var lowest = Double.infinity
        for child in children {
            decision[branched] = child
            lowest = min(lowest, visit(prices: lambda, parentBound: bound, depth: depth + 1, shouldStop: shouldStop))
        }
        decision[branched] = saved
        return max(bound, min(lowest, upper))
    }

    /// The free instance whose decision is closest to turning: the taken move that gains
    /// least over the first one left out, or the left-out move nearest the last taken.
    private func branchingInstance(_ r: LagrangianBound.Relaxation, taken: Set<Int>) -> Int? {
        var best = -1, bestScore = Double.infinity
        for i in 0..<problem.instanceCount where decision[i] == LagrangianBound.free && r.alternativeNode[i] >= 0 {
            let gain = r.stay[i] - r.alternative[i]
            let score = taken.contains(i) ? gain - r.leftMargin : r.takenMargin - gain
            if score < bestScore { bestScore = score; best = i }
        }
        return best >= 0 ? best : nil
    }

    /// Solves the assignment the relaxation chose when nothing is left free to move: the
    /// subtree's exact optimum. Nil when some instance is still undecided with a move open.
    private mutating func leafObjective(_ r: LagrangianBound.Relaxation) -> Double? {
        var node = problem.node
        for i in 0..<problem.instanceCount {
            let d = decision[i]
            if d >= 0 { node[i] = Int(d) } else if d == LagrangianBound.away { return nil }
            else if r.budgetLeft > 0 && r.alternativeNode[i] >= 0 { return nil }
        }
        let solution = FixedSolver.solve(problem, curves: curves, node: node)
        guard solution.status != .infeasible else { return .infinity }
        if solution.objective < upper - tolerance {
            upper = solution.objective
            incumbent = node
        }
        return solution.objective
    }
}
