import Testing
import PoolCore
@testable import SwapSolver

@Suite("Optimality against brute force on random small problems")
struct OptimalityTests {
    @Test func fixedVariantMatchesBruteForce() {
        var feasible = 0
        for seed in UInt64(1)...300 {
            let problem = randomProblem(seed: seed, migrations: false)
            let solution = FixedSolver.solve(problem)
            let brute = bruteForceObjective(problem, node: problem.node)
            if let brute {
                feasible += 1
                #expect(solution.status == .optimal, "seed \(seed): \(solution.reason ?? "")")
                let check = SolutionChecker.check(problem, node: solution.node, allocation: solution.allocation)
                #expect(check.violations == [], "seed \(seed)")
                #expect(abs(check.objective - brute) <= 1e-9 * max(1, brute), "seed \(seed): solver \(check.objective), brute force \(brute)")
            } else {
                #expect(solution.status == .infeasible, "seed \(seed): brute force finds no feasible allocation")
                #expect(solution.reason != nil)
            }
        }
        #expect(feasible >= 100, "enough feasible cases to mean something: \(feasible)")
    }

    @Test func migrationVariantMatchesEnumerationOfAssignments() {
        var feasible = 0
        for seed in UInt64(1)...150 {
            let problem = randomProblem(seed: seed, nodes: 3, perNode: 3, migrations: true)
            let best = allAssignments(problem).compactMap { bruteForceObjective(problem, node: $0) }.min()
            let exact = SwapSolver().solve(problem)
            var local = SwapSolver()
            local.exhaustiveLimit = 0
            let searched = local.solve(problem)
            guard let best else {
                #expect(exact.status == .infeasible, "seed \(seed)")
                continue
            }
            feasible += 1
            #expect(exact.status == .optimal, "seed \(seed): \(exact.reason ?? "")")
            #expect(abs(exact.objective - best) <= 1e-9 * max(1, best), "seed \(seed): exhaustive \(exact.objective), brute force \(best)")
            if searched.status != .infeasible {
                let check = SolutionChecker.check(problem, node: searched.node, allocation: searched.allocation)
                #expect(check.violations == [], "seed \(seed)")
                #expect(check.objective >= best - 1e-9 * max(1, best), "seed \(seed)")
                #expect(searched.lowerBound <= best + 1e-9 * max(1, best),
                        "seed \(seed): lower bound \(searched.lowerBound) above the optimum \(best)")
            }
        }
        #expect(feasible >= 60, "enough feasible cases to mean something: \(feasible)")
    }

    @Test func lagrangianBoundNeverExceedsTheOptimum() throws {
        var checked = 0
        for seed in UInt64(1)...150 {
            let problem = randomProblem(seed: seed, nodes: 3, perNode: 3, migrations: true)
            guard let best = allAssignments(problem).compactMap({ bruteForceObjective(problem, node: $0) }).min(),
                  case .success(let curves) = AllocationCurves.build(problem) else { continue }
            checked += 1
            let bound = LagrangianBound(problem: problem, curves: curves)
            var rng = SplitMix64(seed: seed)
            var relaxation = LagrangianBound.Relaxation()
            let count = problem.nodeCount * problem.resourceCount
            for _ in 0..<20 {
                let prices = (0..<count).map { _ in Double.random(in: 0...30, using: &rng) }
                let value = bound.evaluate(prices, into: &relaxation)
                #expect(value <= best + 1e-9 * max(1, best), "seed \(seed): L(λ) = \(value) above the optimum \(best)")
            }
            let maximised = bound.maximise(startingAt: [Double](repeating: 0, count: count), target: best, iterations: 100) { false }.bound
            #expect(maximised <= best + 1e-9 * max(1, best), "seed \(seed)")
            #expect(maximised > -Double.infinity)
        }
        #expect(checked >= 60)
    }
}

@Suite("Fixed variant in parallel")
struct ParallelFixedTests {
    @Test func nodeRangesOnSeparateThreadsGiveTheSameAnswer() throws {
        let problem = try loadProblem("medium-fixed")
        guard case .success(let curves) = AllocationCurves.build(problem) else {
            Issue.record("medium-fixed has feasible curves"); return
        }
        let one = FixedSolver.solve(problem, curves: curves, node: problem.node, chunks: 1)
        let many = FixedSolver.solve(problem, curves: curves, node: problem.node, chunks: 7)
        #expect(one.status == .optimal && many.status == .optimal)
        #expect(one.allocation == many.allocation)
        #expect(abs(one.objective - many.objective) <= 1e-9 * one.objective)
        let check = SolutionChecker.check(problem, node: many.node, allocation: many.allocation)
        #expect(check.isFeasible)
        #expect(abs(check.objective - (try referenceObjective("medium-fixed"))) <= 1e-6 * check.objective)
    }

    @Test func anOverloadedNodeInAnyRangeIsFound() throws {
        var problem = try loadProblem("medium-fixed")
        let last = problem.nodeCount - 1
        problem.reserve[last * problem.resourceCount] = problem.capacity[last * problem.resourceCount]
        guard case .success(let curves) = AllocationCurves.build(problem) else { return }
        let solution = FixedSolver.solve(problem, curves: curves, node: problem.node, chunks: 7)
        #expect(solution.status == .infeasible)
        #expect(solution.reason?.contains("node \(problem.nodeIDs[last]) cpu") == true, "\(solution.reason ?? "")")
    }
}
