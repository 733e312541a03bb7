import ArgumentParser
import Foundation
import PoolCore
import SwapSolver

extension RecommendCommand {
    /// `--resolve-after-change`: what a control loop's next round costs. A seeded share of the
    /// instances get a new demand (each resource × a factor in [0.8, 1.25]); the changed problem
    /// is solved warm-started from `solution` (so with a tenth of the bound steps, no node
    /// decomposition and no branch and bound) and then cold, and both go to stderr with their
    /// checked objectives and work.
    func resolve(_ problem: SwapProblem, after solution: SwapSolution, changing fraction: Double, solver: SwapSolver) throws {
        guard problem.instanceCount > 0 else { return }
        var changed = problem
        var random = SplitMix64(seed: seed &+ 17)
        let R = problem.resourceCount
        let count = max(1, Int((fraction * Double(problem.instanceCount)).rounded()))
        var picked = Set<Int>()
        while picked.count < count { picked.insert(Int(random.next() % UInt64(problem.instanceCount))) }
        for i in picked.sorted() {
            for r in 0..<R {
                let factor = 0.8 + 0.45 * Double(random.next() >> 11) / Double(1 << 53)
                var demand = problem.demand[i * R + r] * factor
                if problem.integral[r] { demand = demand.rounded() }
                changed.demand[i * R + r] = demand
            }
        }
        let warmStart = SwapWarmStart(problem: problem, solution: solution)
        let clock = ContinuousClock()
        var lines: [String] = []
        for (label, warm) in [("warm", warmStart), ("cold", nil)] as [(String, SwapWarmStart?)] {
            let started = clock.now
            let deadline = started.advanced(by: .seconds(timeLimit))
            var work = 0
            let result = solver.solve(changed, warmStart: warm, shouldStop: { clock.now >= deadline }, progress: { work = $0.work })
            let seconds = (clock.now - started) / .seconds(1)
            let report = SolutionChecker.check(changed, node: result.node, allocation: result.allocation)
            guard result.status != .infeasible, report.isFeasible else {
                throw ValidationError("the \(label) re-solve found no feasible plan: \(result.reason ?? report.violations.first ?? "")")
            }
            lines.append(String(format: "%@ re-solve after %d instances' demands changed: objective %.6f (checked), gap %.4f%%, work %ld, %.1f ms\n",
                                label, count, report.objective, result.gap * 100, work, seconds * 1000))
        }
        FileHandle.standardError.write(Data(lines.joined().utf8))
    }
}
