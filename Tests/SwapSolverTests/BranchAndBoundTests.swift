import PoolCore
import Testing
@testable import SwapSolver

/// The branch and bound after the searches: its restricted bounds are valid, and it proves
/// (and, where the searches stop short, reaches) the optimum of problems enumerated exactly.
@Suite("Branch and bound on migrations")
struct BranchAndBoundTests {
    /// L(λ) under fixed decisions never exceeds the best assignment that keeps them.
    @Test func theRestrictedBoundNeverExceedsTheRestrictedOptimum() {
        var checked = 0, binding = 0
        for seed in UInt64(1)...120 {
            let problem = randomProblem(seed: seed, nodes: 3, perNode: 3, migrations: true)
            guard case .success(let curves) = AllocationCurves.build(problem) else { continue }
            let assignments = allAssignments(problem)
            var random = SplitMix64(seed: seed)
            let lagrangian = LagrangianBound(problem: problem, curves: curves)
            var relaxation = LagrangianBound.Relaxation()
            for _ in 0..<6 {
                var decision = [Int32](repeating: LagrangianBound.free, count: problem.instanceCount)
                for i in 0..<problem.instanceCount where !problem.locked[i] && !problem.alternatives[i].isEmpty {
                    switch random.next() % 4 {
                    case 0: decision[i] = Int32(problem.node[i])
                    case 1: decision[i] = LagrangianBound.away
                    case 2: decision[i] = Int32(problem.alternatives[i][Int(random.next() % UInt64(problem.alternatives[i].count))])
                    default: break
                    }
                }
                for i in 0..<problem.instanceCount where problem.locked[i] || problem.alternatives[i].isEmpty {
                    decision[i] = Int32(problem.node[i])
                }
                let keeping = assignments.filter { node in
                    (0..<problem.instanceCount).allSatisfy { i in
                        let d = decision[i]
                        return d == LagrangianBound.free || (d == LagrangianBound.away ? node[i] != problem.node[i] : node[i] == Int(d))
                    }
                }
                let best = keeping.compactMap { bruteForceObjective(problem, node: $0) }.min() ?? .infinity
                let count = problem.nodeCount * problem.resourceCount
                for _ in 0..<10 {
                    let prices = (0..<count).map { _ in Double(random.next() % 3_000) / 100 }
                    let value = lagrangian.evaluate(prices, decision: decision, into: &relaxation)
                    #expect(value <= best + 1e-9 * max(1, abs(best)), "seed \(seed): L = \(value) above the restricted optimum \(best)")
                    checked += 1
                }
                let (raised, _) = lagrangian.maximise(startingAt: [Double](repeating: 0, count: count), decision: decision,
                                                      target: best.isFinite ? best : 1e6, iterations: 100,
                                                      relaxation: &relaxation) { false }
                #expect(raised <= best + 1e-9 * max(1, abs(best)), "seed \(seed): maximised \(raised), optimum \(best)")
                if best.isFinite, raised >= best - 1e-6 * max(1, abs(best)) { binding += 1 }
            }
        }
        print("restricted bounds: \(checked) evaluations, \(binding) maximised bounds equal to their optimum")
        #expect(checked >= 3_000)
        #expect(binding >= 50, "the bound reaches the restricted optimum often, or it proves little: \(binding)")
    }

    /// With the searches cut short (no iterated search) the branch and bound alone must
    /// reach the optimum the move enumeration proves, and prove it.
    @Test func itProvesTheEnumeratedOptimumAndReachesOnesTheLocalSearchMisses() {
        var compared = 0, localMissed = 0
        for seed in UInt64(1)...250 {
            let problem = randomProblem(seed: seed, nodes: 5, perNode: 6, migrations: true)
            let exact = SwapSolver().solve(problem)
            guard exact.status == .optimal else { continue }
            let local = SwapSolver.localSearchOnly
            var proving = local
            proving.proofEffort = 1_000_000
            var phases: [SwapSolver.Progress.Phase] = []
            let searched = local.solve(problem), proven = proving.solve(problem, progress: { phases.append($0.phase) })
            compared += 1
            let tolerance = 1e-9 * max(1, abs(exact.objective))
            if searched.objective > exact.objective + tolerance { localMissed += 1 }
            let check = SolutionChecker.check(problem, node: proven.node, allocation: proven.allocation)
            #expect(check.violations == [] && abs(check.objective - proven.objective) <= tolerance, "seed \(seed)")
            #expect(abs(proven.objective - exact.objective) <= tolerance, "seed \(seed): \(proven.objective), optimum \(exact.objective)")
            #expect(proven.status == .optimal && proven.gap == 0, "seed \(seed): \(proven.status), gap \(proven.gap)")
            if searched.gap > 0 {
                #expect(phases.contains(.branchAndBound), "seed \(seed): an open gap is searched")
            }
        }
        print("branch and bound: \(compared) problems proven, \(localMissed) of them missed by the local search")
        #expect(compared >= 50, "enough problems to mean something: \(compared)")
        #expect(localMissed > 0, "the local search misses some optima, or this test shows nothing")
    }

    /// The reduced costs that fixing relies on are the exact rise of the bound when one
    /// instance's relaxed decision is reversed.
    @Test func reducedCostsAreTheExactRiseOfTheBound() {
        var compared = 0
        for seed in UInt64(1)...60 {
            let problem = randomProblem(seed: seed, nodes: 4, perNode: 4, migrations: true)
            guard case .success(let curves) = AllocationCurves.build(problem) else { continue }
            let lagrangian = LagrangianBound(problem: problem, curves: curves)
            var random = SplitMix64(seed: seed)
            var r = LagrangianBound.Relaxation(), flipped = LagrangianBound.Relaxation()
            for _ in 0..<5 {
                let prices = (0..<(problem.nodeCount * problem.resourceCount)).map { _ in Double(random.next() % 2_000) / 100 }
                let base = lagrangian.evaluate(prices, into: &r)
                for i in 0..<problem.instanceCount where r.alternativeNode[i] >= 0 {
                    var decision = [Int32](repeating: LagrangianBound.free, count: problem.instanceCount)
                    let gain = r.stay[i] - r.alternative[i]
                    let taken = Int(r.choice[i]) != problem.node[i]
                    decision[i] = taken ? Int32(problem.node[i]) : LagrangianBound.away
                    let value = lagrangian.evaluate(prices, decision: decision, into: &flipped)
                    let rise = taken ? gain - r.leftMargin : (r.budgetLeft == 0 ? .infinity : r.takenMargin - gain)
                    if rise.isInfinite {
                        #expect(value == .infinity, "seed \(seed): instance \(i) cannot leave without budget")
                    } else {
                        #expect(abs(value - (base + rise)) <= 1e-9 * max(1, abs(base)), "seed \(seed), instance \(i): \(value) against \(base) + \(rise)")
                    }
                    compared += 1
                }
            }
        }
        #expect(compared >= 500, "enough flips to mean something: \(compared)")
    }

    /// A tree cut short by its limit still returns a valid bound, and never a worse plan.
    @Test func aTreeCutShortStillBoundsTheOptimum() {
        var compared = 0
        var finished = 0
        let local = SwapSolver.localSearchOnly
        for seed in UInt64(1)...250 {
            let problem = randomProblem(seed: seed, nodes: 5, perNode: 6, migrations: true)
            let exact = SwapSolver().solve(problem)
            guard exact.status == .optimal, case .success(let curves) = AllocationCurves.build(problem) else { continue }
            // The incumbent: the local search's plan, feasible, often not optimal.
            let home = local.solve(problem)
            guard home.status != .infeasible else { continue }
            let tolerance = 1e-9 * max(1, abs(exact.objective))
            let zero = [Double](repeating: 0, count: problem.nodeCount * problem.resourceCount)
            for limit in [0, 11, 40, 150, 100_000] {
                var tree = MigrationBranchAndBound(problem: problem, curves: curves, upper: home.objective, incumbent: home.node)
                tree.evaluationLimit = limit
                let bound = tree.run(prices: zero, bound: -.infinity) { false }
                #expect(bound <= exact.objective + tolerance, "seed \(seed), limit \(limit): bound \(bound) above the optimum \(exact.objective)")
                #expect(tree.upper >= exact.objective - tolerance && tree.upper <= home.objective + tolerance, "seed \(seed), limit \(limit)")
                #expect(tree.evaluations <= limit, "seed \(seed): \(tree.evaluations) evaluations past the limit \(limit)")
                if limit == 100_000, tree.evaluations < limit - 11 {
                    finished += 1
                    #expect(abs(tree.upper - exact.objective) <= tolerance && abs(bound - exact.objective) <= tolerance, "seed \(seed): a finished tree proves the optimum")
                }
                compared += 1
            }
        }
        #expect(compared >= 200, "enough cases to mean something: \(compared)")
        #expect(finished >= 40, "trees that finish within the limit prove the optimum: \(finished)")
    }
}
