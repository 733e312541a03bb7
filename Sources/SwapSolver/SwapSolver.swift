/// Solves a swap problem: exactly when nobody can move, by exhaustive search
/// over move sets when they are few, and otherwise by local search, a
/// Lagrangian lower bound that certifies the gap, an iterated search that
/// spends what is left of the budget improving the plan, a stronger bound by node
/// decomposition, and a branch and bound that tries to prove the plan optimal.
public struct SwapSolver: Sendable {
    /// Most move sets searched exhaustively (each solved exactly).
    public var exhaustiveLimit = 200_000
    /// Most subgradient steps spent on the lower bound (a tenth when warm-started).
    public var boundIterations = 300
    /// Rounds of the iterated search in a row without improvement after which it ends (warm
    /// starts too: with less, the 100,000-instance re-solve ended worse than a cold one).
    public var patience = 1_000
    /// Most work the solve does (`nil`: no limit but time and patience): the searches count
    /// instances whose moves are weighed, the node decomposition and its tree node-cost
    /// evaluations. Work, not time: the same problem, seed and limit give the
    /// same plan on any machine, as long as the time limit does not come first.
    public var workLimit: Int?
    /// Seed of the iterated search's kicks.
    public var seed: UInt64 = 1
    /// After the searches, a branch and bound on the migrations tries to prove the plan optimal
    /// (or finds a better one) with at most this many times the work the searches did (0: none):
    /// on the node decomposition when it ran (`DecompositionBranchAndBound`), else on capacity
    /// prices (`MigrationBranchAndBound`). Its bound rises little until the whole tree is
    /// searched, so a tree too big is cut off early. Not when warm-started: a warm start is a
    /// loop's next round, which wants the plan; its capacity bound certifies it.
    public var proofEffort = 50
    /// Subgradient steps of the node-decomposition bound (`NodeDecompositionBound`), run after
    /// the iterated search when a gap is left, and followed by its branch and bound (see
    /// `proofEffort`); 0: neither, and the capacity-price branch and bound instead. Not when
    /// warm-started: a warm start is a loop's next round, which wants the plan; its capacity
    /// bound certifies it.
    public var decompositionIterations = 1_000

    /// One point of the search's trajectory: the incumbent's objective and the proven bound
    /// (-∞ before the bound is computed) after `work` (see `workLimit`). The last is `done`.
    public struct Progress: Sendable, Equatable {
        public enum Phase: String, Sendable { case localSearch = "local-search", bound, iterated, decomposition, branchAndBound = "branch-and-bound", done }
        public var phase: Phase
        public var work: Int
        public var objective: Double
        public var bound: Double

        public init(phase: Phase, work: Int, objective: Double, bound: Double) {
            self.phase = phase
            self.work = work
            self.objective = objective
            self.bound = bound
        }
    }

    public init() {}

    /// `shouldStop` is asked now and then; once it says true the solver returns the best
    /// solution it has, with its gap. `warmStart` is an earlier solve of a similar problem
    /// (the loop's previous round): its assignment is where the search starts, its prices
    /// where the bound starts. `progress` hears of every new incumbent and bound.
    public func solve(_ problem: SwapProblem, warmStart: SwapWarmStart? = nil, shouldStop: () -> Bool = { false },
                      progress: (Progress) -> Void = { _ in }) -> SwapSolution {
        let curves: AllocationCurves
        switch AllocationCurves.build(problem) {
        case .failure(let reason): return .infeasible(reason.description, problem: problem)
        case .success(let built): curves = built
        }
        var solution: SwapSolution
        var work = 0
        if problem.isFixed {
            solution = FixedSolver.solve(problem, curves: curves, node: problem.node)
        } else if let reason = immovableOverload(problem, curves: curves) {
            return .infeasible(reason, problem: problem)
        } else if MoveEnumeration.count(problem, limit: exhaustiveLimit) != nil,
                  case let (node, complete) = MoveEnumeration.best(problem, curves: curves, shouldStop: shouldStop), complete {
            solution = FixedSolver.solve(problem, curves: curves, node: node)
            if solution.status == .infeasible {
                return .infeasible("no set of at most \(problem.maxMigrations) migrations fits every node; without them: "
                                   + (solution.reason ?? ""), problem: problem)
            }
        } else {
            solution = search(problem, curves: curves, warmStart: warmStart, work: &work, shouldStop: shouldStop, progress: progress)
            if solution.status == .infeasible, warmStart != nil {
                // The warm start led nowhere feasible: from home, as a cold solve.
                solution = search(problem, curves: curves, warmStart: nil, work: &work, shouldStop: shouldStop, progress: progress)
            }
        }
        if solution.status != .infeasible {
            progress(Progress(phase: .done, work: work, objective: solution.objective, bound: solution.lowerBound))
        }
        return solution
    }

    /// Local search, the bound, then the iterated search; `work` adds what they did.
    private func search(_ problem: SwapProblem, curves: AllocationCurves, warmStart: SwapWarmStart?, work: inout Int,
                        shouldStop: () -> Bool, progress: (Progress) -> Void) -> SwapSolution {
        var search = MigrationSearch(problem: problem, curves: curves, start: warmStart?.assignment(for: problem))
        search.workLimit = workLimit.map { max(0, $0 - work) } ?? .max
        defer { work += search.work }
        search.run(shouldStop: shouldStop)
        progress(Progress(phase: .localSearch, work: work + search.work, objective: search.objective, bound: -.infinity))
        let first = FixedSolver.solveWithPrices(problem, curves: curves, node: search.node)
        var bound = -Double.infinity, prices = first.prices
        if first.solution.status != .infeasible {
            let warmPrices = warmStart?.prices(for: problem, fallback: first.prices)
            (bound, prices) = LagrangianBound(problem: problem, curves: curves)
                .maximise(startingAt: warmPrices ?? first.prices, target: first.solution.objective,
                          iterations: warmPrices == nil ? boundIterations : max(1, boundIterations / 10),
                          initialStep: warmPrices == nil ? 1 : 0.1, shouldStop: shouldStop)
            progress(Progress(phase: .bound, work: work + search.work, objective: search.objective, bound: bound))
        }
        var iterated = IteratedSearch()
        iterated.seed = seed
        iterated.patience = patience
        let before = work
        iterated.run(&search, shouldStop: shouldStop) { step in
            progress(Progress(phase: .iterated, work: before + step.work, objective: step.objective, bound: bound))
        }
        var solution = FixedSolver.solveWithPrices(problem, curves: curves, node: search.node).solution
        guard solution.status != .infeasible else {
            solution.reason = "no feasible assignment found (not proven infeasible): " + (solution.reason ?? "")
            return solution
        }
        var searched = false
        if decompositionIterations > 0, warmStart == nil, SwapSolution.gap(objective: solution.objective, lowerBound: bound) > 0,
           bound.isFinite, workLimit.map({ $0 > work + search.work }) ?? true, !shouldStop(),
           // Its node search relies on the overload penalty outweighing every slope.
           curves.slope.allSatisfy({ $0 > -NodeBook.overloadPenalty / 2 }) {
            // The node-decomposition bound, from the capacity bound's priced costs.
            var relaxation = LagrangianBound.Relaxation()
            LagrangianBound(problem: problem, curves: curves).evaluate(prices, into: &relaxation)
            var decomposition = NodeDecompositionBound(problem: problem, curves: curves)
            let before = work + search.work
            decomposition.workLimit = workLimit.map { max(0, $0 - before) } ?? .max
            var dual = decomposition.start(from: relaxation)
            bound = max(bound, decomposition.ascend(
                &dual, target: solution.objective,
                iterations: decompositionIterations,
                shouldStop: shouldStop))
            progress(Progress(phase: .decomposition, work: before + decomposition.work, objective: solution.objective, bound: bound))
            if proofEffort > 0, SwapSolution.gap(objective: solution.objective, lowerBound: bound) > 0, !shouldStop() {
                // Branch and bound on the decomposition: a proof, or a better plan.
                let allowed = decomposition.work.addingReportingOverflow(proofWork(search.work))
                decomposition.workLimit = min(decomposition.workLimit, allowed.overflow ? .max : allowed.partialValue)
                var tree = DecompositionBranchAndBound(decomposition: decomposition, upper: solution.objective, incumbent: search.node)
                let proven = tree.run(from: dual, shouldStop: shouldStop)
                decomposition = tree.decomposition
                adopt(tree.incumbent, worth: tree.upper, problem, curves: curves, into: &solution)
                bound = max(bound, proven)
                progress(Progress(phase: .branchAndBound, work: before + decomposition.work, objective: solution.objective, bound: bound))
                searched = true
            }
            work += decomposition.work
        }
        if !searched, warmStart == nil, proofEffort > 0, SwapSolution.gap(objective: solution.objective, lowerBound: bound) > 0, bound.isFinite, !shouldStop() {
            // Branch and bound from the bound's prices: a proof, or a better plan.
            var tree = MigrationBranchAndBound(problem: problem, curves: curves, upper: solution.objective, incumbent: search.node)
            let used = work + search.work
            let allowed = min(proofWork(search.work), workLimit.map { max(0, $0 - used) } ?? .max)
            tree.evaluationLimit = allowed / max(1, problem.instanceCount)
            let proven = tree.run(prices: prices, bound: bound, shouldStop: shouldStop)
            work += tree.evaluations * problem.instanceCount
            adopt(tree.incumbent, worth: tree.upper, problem, curves: curves, into: &solution)
            bound = max(bound, proven)
            progress(Progress(phase: .branchAndBound, work: work + search.work, objective: solution.objective, bound: bound))
        }
        solution.lowerBound = min(bound, solution.objective)
        solution.prices = prices
        solution.status = solution.gap == 0 ? .optimal : .feasible
        return solution
    }

    /// The work a branch and bound may do after searches that did `searchWork` (`proofEffort`
    /// times it, `Int.max` on overflow).
    private func proofWork(_ searchWork: Int) -> Int {
        let effort = searchWork.multipliedReportingOverflow(by: proofEffort)
        return effort.overflow ? .max : effort.partialValue
    }

    /// Takes a tree's incumbent (`node`, costed `upper` by the tree) when it beats `solution`,
    /// solved exactly again for its allocations.
    private func adopt(_ node: [Int], worth upper: Double, _ problem: SwapProblem, curves: AllocationCurves,
                       into solution: inout SwapSolution) {
        guard upper < solution.objective else { return }
        let better = FixedSolver.solve(problem, curves: curves, node: node)
        if better.status != .infeasible, better.objective < solution.objective { solution = better }
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
