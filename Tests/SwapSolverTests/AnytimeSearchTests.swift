import Foundation
import PoolCore
import Testing
@testable import SwapSolver

/// The migration search after its local optimum: the iterated search, its trajectory, its
/// reproducibility under a work limit, and warm starts from an earlier round.
@Suite("Anytime migration search")
struct AnytimeSearchTests {
    /// Random problems a little larger than brute force can take, solved exactly by the move
    /// enumeration, then by the search alone (local search only, and with the iterated search).
    @Test func theIteratedSearchNeverLosesToTheLocalSearchAndReachesOptimaItMisses() {
        var compared = 0, localMissed = 0, iteratedReached = 0, localReached = 0
        for seed in UInt64(1)...200 {
            let problem = randomProblem(seed: seed, nodes: 5, perNode: 6, migrations: true)
            let exact = SwapSolver().solve(problem)
            guard exact.status == .optimal else { continue }
            let localOnly = SwapSolver.localSearchOnly
            var iterated = localOnly
            iterated.patience = 300
            let local = localOnly.solve(problem), searched = iterated.solve(problem)
            guard local.status != .infeasible, searched.status != .infeasible else {
                Issue.record("seed \(seed): the search found no plan where the enumeration did")
                continue
            }
            compared += 1
            let tolerance = 1e-9 * max(1, abs(exact.objective))
            let check = SolutionChecker.check(problem, node: searched.node, allocation: searched.allocation)
            #expect(check.violations == [] && abs(check.objective - searched.objective) <= tolerance, "seed \(seed)")
            #expect(searched.objective >= exact.objective - tolerance, "seed \(seed): below the proven optimum")
            #expect(searched.objective <= local.objective + tolerance, "seed \(seed): the iterated search lost ground")
            #expect(searched.lowerBound <= exact.objective + tolerance, "seed \(seed): bound above the optimum")
            if local.objective <= exact.objective + tolerance { localReached += 1 } else { localMissed += 1 }
            if searched.objective <= exact.objective + tolerance { iteratedReached += 1 }
        }
        print("iterated search: \(compared) problems, optimum reached by the local search \(localReached), by the iterated search \(iteratedReached)")
        #expect(compared >= 50, "enough problems to mean something: \(compared)")
        #expect(localMissed > 0, "the local search misses some optima, or this test shows nothing")
        #expect(iteratedReached > localReached, "the iterated search reaches optima the local search misses")
    }

    /// The shared 200-instance vector, by search alone (its move sets are few enough to
    /// enumerate, which proves HiGHS's optimum).
    @Test func theSearchAloneReachesTheSharedVectorsOptimum() throws {
        let problem = try loadProblem("small-mig")
        let reference = try referenceObjective("small-mig")
        var solver = SwapSolver()
        solver.exhaustiveLimit = 0
        var trajectory: [SwapSolver.Progress] = []
        let solution = solver.solve(problem, progress: { trajectory.append($0) })
        #expect(abs(solution.objective - reference) <= 1e-6 * reference, "\(solution.objective) against HiGHS's \(reference)")
        // The trajectory: the local search, the bound, then improvements only.
        #expect(trajectory.first?.phase == .localSearch && trajectory.dropFirst().first?.phase == .bound)
        for (before, after) in zip(trajectory, trajectory.dropFirst()) {
            #expect(after.objective <= before.objective + 1e-9 && after.work >= before.work)
            #expect(after.phase == .bound || after.phase == .decomposition || after.phase == .branchAndBound || after.bound == before.bound || before.phase == .localSearch)
        }
        for step in trajectory where step.phase != .localSearch { #expect(step.bound <= step.objective + 1e-9) }
        #expect(abs((trajectory.last?.objective ?? .nan) - solution.objective) <= 1e-9 * solution.objective)
    }

    @Test func aWorkLimitGivesTheSamePlanOnEveryRun() throws {
        var problem = try loadProblem("small-mig")
        problem.maxMigrations = 6
        var solver = SwapSolver()
        solver.exhaustiveLimit = 0
        solver.workLimit = 40_000
        solver.patience = .max
        var steps: [SwapSolver.Progress] = []
        let first = solver.solve(problem, progress: { steps.append($0) })
        let second = solver.solve(problem)
        #expect(first == second)
        let done = try #require(steps.last)
        #expect(done.phase == .done && done.work >= 40_000, "the search ran until its limit: \(done.work)")
        #expect(done.work <= 40_000 + problem.instanceCount, "the limit is kept to within one greedy step: \(done.work)")
    }

    /// The search's list of instances away from home (the iterated search draws its kicks
    /// from it) stays exactly the instances away from home through random moves.
    @Test func theMigratedListFollowsEveryMove() throws {
        let problem = randomProblem(seed: 7, nodes: 5, perNode: 6, migrations: true)
        guard case .success(let curves) = AllocationCurves.build(problem) else { Issue.record("no curves"); return }
        var search = MigrationSearch(problem: problem, curves: curves)
        try #require(!search.movable.isEmpty)
        var random = SplitMix64(seed: 11)
        var away = 0
        for _ in 0..<2_000 {
            let i = search.movable[Int(random.next() % UInt64(search.movable.count))]
            let targets = [problem.node[i]] + problem.alternatives[i]
            let q = targets[Int(random.next() % UInt64(targets.count))]
            search.apply(.init(instance: i, target: q, delta: 0, budgetChange: 0))
            let expected = (0..<problem.instanceCount).filter { search.node[$0] != problem.node[$0] }
            #expect(search.migrated.map(Int.init).sorted() == expected)
            #expect(search.migrations == expected.count)
            away = max(away, expected.count)
        }
        #expect(away >= 3, "the moves sent several instances away at once: \(away)")
    }

    /// A loop's next round: a few demands change; the solve warm-started from the last plan and
    /// a cold one are both right, neither is outside the other's certified range, and the warm
    /// plan is at least as good as the cold one.
    @Test func aWarmStartAfterDemandsChangeAgreesWithAColdSolve() throws {
        var base = try loadProblem("small-mig")
        base.maxMigrations = 6  // past what the enumeration takes: the search runs
        var solver = SwapSolver()
        solver.patience = 100
        solver.proofEffort = 5  // the cold bound for the cross-check, not a proof
        let first = solver.solve(base)
        #expect(first.status != .infeasible && !first.prices.isEmpty)
        let memory = SwapWarmStart(problem: base, solution: first)
        var random = SplitMix64(seed: 3)
        var compared = 0, asGood = 0
        for trial in 0..<8 {
            var problem = base
            for _ in 0..<4 {
                let i = Int(random.next() % UInt64(problem.instanceCount))
                for r in 0..<problem.resourceCount {
                    let factor = 0.6 + 0.8 * Double(random.next() % 1_000) / 1_000
                    problem.demand[i * problem.resourceCount + r] *= factor
                    if problem.integral[r] { problem.demand[i * problem.resourceCount + r].round() }
                }
            }
            var phases: Set<SwapSolver.Progress.Phase> = []
            let warm = solver.solve(problem, warmStart: memory, progress: { phases.insert($0.phase) })
            let cold = solver.solve(problem)
            #expect(!phases.contains(.decomposition) && !phases.contains(.branchAndBound), "trial \(trial): a warm start wants the plan, not the proof")
            guard warm.status != .infeasible, cold.status != .infeasible else {
                Issue.record("trial \(trial): \(warm.reason ?? "") \(cold.reason ?? "")"); continue
            }
            compared += 1
            let tolerance = 1e-9 * max(1, abs(cold.objective))
            let check = SolutionChecker.check(problem, node: warm.node, allocation: warm.allocation)
            #expect(check.violations == [] && abs(check.objective - warm.objective) <= tolerance, "trial \(trial)")
            #expect(warm.objective >= cold.lowerBound - tolerance && cold.objective >= warm.lowerBound - tolerance,
                    "trial \(trial): warm \(warm.objective) [\(warm.lowerBound)], cold \(cold.objective) [\(cold.lowerBound)]")
            if warm.objective <= cold.objective + tolerance { asGood += 1 }
        }
        print("warm starts: \(asGood) of \(compared) as good as the cold solve")
        #expect(compared == 8)
        #expect(asGood == compared, "the warm start is as good as a cold solve: \(asGood) of \(compared)")
    }

    @Test func aWarmStartKeepsOnlyWhatTheNewProblemAllows() throws {
        var problem = try loadProblem("small-mig")
        problem.maxMigrations = 5  // room for all six remembered moves but two: the budget is what stops the third
        let movers = (0..<problem.instanceCount).filter { !problem.locked[$0] && !problem.alternatives[$0].isEmpty }
        let locked = try #require((0..<problem.instanceCount).first { problem.locked[$0] })
        var remembered: [String: String] = [:]
        for i in movers.prefix(7).dropFirst(4) { remembered[problem.instanceIDs[i]] = problem.nodeIDs[problem.alternatives[i][0]] }
        for i in movers.prefix(3) { remembered[problem.instanceIDs[i]] = problem.nodeIDs[problem.alternatives[i][0]] }
        let stranger = movers[3]
        let notCandidate = try #require((0..<problem.nodeCount).first { $0 != problem.node[stranger] && !problem.alternatives[stranger].contains($0) })
        remembered[problem.instanceIDs[stranger]] = problem.nodeIDs[notCandidate]
        remembered[problem.instanceIDs[locked]] = problem.nodeIDs[(problem.node[locked] + 1) % problem.nodeCount]
        remembered["gone"] = problem.nodeIDs[0]
        let start = SwapWarmStart(node: remembered, prices: ["n-gone": ["cpu": 3]]).assignment(for: problem)
        #expect(start[movers[0]] == problem.alternatives[movers[0]][0] && start[movers[1]] == problem.alternatives[movers[1]][0])
        #expect(start[stranger] == problem.node[stranger], "not a candidate: home")
        #expect(start[locked] == problem.node[locked], "locked: home")
        // In the problem's order: movers 0, 1, 2, 4, 5 fit the budget of 5 (the stranger and the
        // locked one take none of it); mover 6 does not.
        #expect([0, 1, 2, 4, 5].allSatisfy { start[movers[$0]] == problem.alternatives[movers[$0]][0] }, "\(start)")
        #expect(start[movers[6]] == problem.node[movers[6]], "the budget of 5 is kept")
        #expect((0..<problem.instanceCount).filter { start[$0] != problem.node[$0] }.count == 5)
        let fallback = [Double](repeating: 7, count: problem.nodeCount * problem.resourceCount)
        let prices = SwapWarmStart(node: [:], prices: [problem.nodeIDs[1]: ["cpu": 2.5, "memory": -1]]).prices(for: problem, fallback: fallback)
        #expect(prices?[1 * problem.resourceCount] == 2.5 && prices?[1 * problem.resourceCount + 1] == 0, "remembered, never below 0")
        #expect(prices?[0] == 7 && prices?[1 * problem.resourceCount + 2] == 7, "what is not remembered comes from the fallback")
        #expect(SwapWarmStart(node: [:]).prices(for: problem, fallback: fallback) == nil)
    }
}
