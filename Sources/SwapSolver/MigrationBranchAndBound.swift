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

    private var tolerance: Double { SwapSolution.optimalityTolerance * max(1, abs(upper)) }

    /// Searches from the root's prices and bound; returns a proven lower bound on the optimum
    /// (`upper` when the search finished: the incumbent is optimal).
    mutating func run(prices: [Double], bound: Double, shouldStop: () -> Bool) -> Double {
        min(upper, visit(prices: prices, parentBound: bound, depth: 0, shouldStop: shouldStop))
    }

    /// The lower bound of the subtree under the current decisions.
    private mutating func visit(prices: [Double], parentBound: Double, depth: Int, shouldStop: () -> Bool) -> Double {
        // A node takes up to `iterations + 1` evaluations: enter it only if they fit the limit.
        if stopped || evaluations + iterations + 1 > evaluationLimit || shouldStop() { stopped = true; return parentBound }
        if let leaf = decidedLeaf() { return leaf }
        var counted = 0
        let (raised, lambda) = lagrangian.maximise(
            startingAt: prices, decision: decision, target: upper, iterations: iterations,
            initialStep: depth == 0 ? 1 : 0.2, relaxation: &relaxation,
            shouldStop: { counted += 1; return false })
        evaluations += counted
        let bound = max(parentBound, raised)
        if bound >= upper - tolerance { return upper }
        lagrangian.evaluate(lambda, decision: decision, into: &relaxation)
        evaluations += 1
        // Fixing and the branching choice read this node's relaxation; the children overwrite it.
        let (fixed, branched, children) = fixAndChoose(upper - relaxation.value)
        defer { for i in fixed { decision[i] = LagrangianBound.free } }
        guard branched >= 0 else {
            // Nothing left free with a move open: the free instances all stay.
            return leafObjective() ?? bound
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

    /// Reduced-cost fixing (a decision whose reversal raises the bound by more than `gap` is
    /// taken), then the instance to branch on and its children, preferred first.
    private mutating func fixAndChoose(_ gap: Double) -> (fixed: [Int], branched: Int, children: [Int32]) {
        let r = relaxation
        var fixed: [Int] = []
        for i in 0..<problem.instanceCount where decision[i] == LagrangianBound.free && r.alternativeNode[i] >= 0 {
            let gain = r.stay[i] - r.alternative[i]
            if Int(r.choice[i]) != problem.node[i] {
                if gain - r.leftMargin > gap { decision[i] = LagrangianBound.away; fixed.append(i) }
            } else if r.budgetLeft == 0 || r.takenMargin - gain > gap {
                decision[i] = Int32(problem.node[i]); fixed.append(i)
            }
        }
        if let i = decision.firstIndex(of: LagrangianBound.away) {
            let preferred = r.alternativeNode[i]
            return (fixed, i, [preferred] + problem.alternatives[i].map(Int32.init).filter { $0 != preferred })
        }
        guard r.budgetLeft > 0, let i = branchingInstance(r) else { return (fixed, -1, []) }
        let home = Int32(problem.node[i])
        return (fixed, i, r.choice[i] != home ? [LagrangianBound.away, home] : [home, LagrangianBound.away])
    }

    /// The exact optimum of a node whose decisions leave nothing to choose: no `away`, and
    /// either no free instance with a move or the budget spent by the fixed moves. Nil otherwise.
    private mutating func decidedLeaf() -> Double? {
        var forced = 0, open = false
        for i in 0..<problem.instanceCount {
            let d = decision[i]
            if d == LagrangianBound.away { return nil }
            if d >= 0 { if Int(d) != problem.node[i] { forced += 1 } } else { open = true }
        }
        guard forced <= problem.maxMigrations else { return .infinity }
        guard !open || forced == problem.maxMigrations else { return nil }
        return leafObjective()
    }

    /// The free instance whose decision is closest to turning: the taken move that gains
    /// least over the first one left out, or the left-out move nearest the last taken.
    private func branchingInstance(_ r: LagrangianBound.Relaxation) -> Int? {
        var best = -1, bestScore = Double.infinity
        for i in 0..<problem.instanceCount where decision[i] == LagrangianBound.free && r.alternativeNode[i] >= 0 {
            let gain = r.stay[i] - r.alternative[i]
            let score = Int(r.choice[i]) != problem.node[i] ? gain - r.leftMargin : r.takenMargin - gain
            if score < bestScore { bestScore = score; best = i }
        }
        return best >= 0 ? best : nil
    }

    /// The exact optimum when every instance is decided (free ones stay home; no `away`):
    /// one fixed-variant solve, counted as one evaluation.
    private mutating func leafObjective() -> Double? {
        var node = problem.node
        for i in 0..<problem.instanceCount {
            let d = decision[i]
            if d >= 0 { node[i] = Int(d) } else if d == LagrangianBound.away { return nil }
        }
        evaluations += 1
        let solution = FixedSolver.solve(problem, curves: curves, node: node)
        guard solution.status != .infeasible else { return .infinity }
        if solution.objective < upper - tolerance {
            upper = solution.objective
            incumbent = node
        }
        return solution.objective
    }
}
