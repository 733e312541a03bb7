#if Cbc
import Testing
import PoolCore
@testable import SwapSolver

/// Runs only with `--traits Cbc` (Debian's coinor-libcbc-dev): the same random
/// problems through Poolswap's solver and through Cbc's MILP.
@Suite("Cross-check against COIN-OR Cbc")
struct CbcCrossCheckTests {
    @Test func fixedVariantAgreesWithCbc() {
        for seed in UInt64(1)...40 {
            let problem = randomProblem(seed: seed, nodes: 6, perNode: 8, migrations: false)
            compare(problem, seed: seed)
        }
    }

    @Test func migrationVariantAgreesWithCbc() {
        for seed in UInt64(101)...130 {
            let problem = randomProblem(seed: seed, nodes: 5, perNode: 6, migrations: true)
            compare(problem, seed: seed)
        }
    }

    @Test func localSearchAndBoundBracketCbcsOptimum() {
        var local = SwapSolver()
        local.exhaustiveLimit = 0
        for seed in UInt64(201)...220 {
            let problem = randomProblem(seed: seed, nodes: 8, perNode: 10, migrations: true)
            compare(problem, seed: seed, solver: local)
        }
    }

    @Test func sharedVectorsAgreeWithCbc() throws {
        for name in ["tiny-fixed", "tiny-mig", "small-fixed", "small-mig"] {
            compare(try loadProblem(name), seed: 0)
        }
    }

    func compare(_ problem: SwapProblem, seed: UInt64, solver: SwapSolver = SwapSolver()) {
        let ours = solver.solve(problem)
        let cbc = CbcSolver().solve(problem)
        #expect((ours.status == .infeasible) == (cbc.status == .infeasible), "seed \(seed): ours \(ours.status), Cbc \(cbc.status)")
        guard ours.status != .infeasible, cbc.status == .optimal else { return }
        let ourCheck = SolutionChecker.check(problem, node: ours.node, allocation: ours.allocation)
        #expect(ourCheck.isFeasible, "seed \(seed): our solution \(ourCheck.violations.prefix(2))")
        let cbcCheck = SolutionChecker.check(problem, node: cbc.node, allocation: cbc.allocation)
        #expect(cbcCheck.isFeasible, "seed \(seed): Cbc's solution \(cbcCheck.violations.prefix(2))")
        let tolerance = 1e-6 * max(1, abs(cbc.objective))
        #expect(ours.lowerBound <= cbc.objective + tolerance, "seed \(seed): our bound \(ours.lowerBound) above Cbc's optimum \(cbc.objective)")
        if ours.status == .optimal {
            #expect(abs(ours.objective - cbc.objective) <= tolerance, "seed \(seed): ours \(ours.objective), Cbc \(cbc.objective)")
        } else {
            #expect(ours.objective >= cbc.objective - tolerance, "seed \(seed)")
        }
    }
}
#endif
