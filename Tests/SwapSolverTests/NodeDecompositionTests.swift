import PoolCore
import Testing
@testable import SwapSolver

/// The node-decomposition bound: each node's minimum is exact, and the bound lies between the
/// capacity-price bound it starts from and the enumerated optimum.
@Suite("Node-decomposition bound")
struct NodeDecompositionTests {
    /// A node's minimum against every subset of the instances that may sit on it, each costed by
    /// `NodeBook` with only that subset on the node.
    @Test func eachNodesMinimumIsTheLeastOverEverySubset() {
        var compared = 0
        for seed in UInt64(1)...60 {
            let problem = randomProblem(seed: seed, nodes: 4, perNode: 5, migrations: true)
            guard case .success(let curves) = AllocationCurves.build(problem) else { continue }
            let decomposition = NodeDecompositionBound(problem: problem, curves: curves)
            var random = SplitMix64(seed: seed)
            for n in 0..<problem.nodeCount {
                let elements = Array(decomposition.elements(of: n))
                guard elements.count <= 14 else { continue }
                for _ in 0..<3 {
                    let weights = elements.map { _ in Double(random.next() % 4_000) / 100 - 30 }
                    let found = decomposition.nodeMinimum(n, weights: weights)
                    var least = Double.infinity
                    for mask in 0..<(1 << elements.count) {
                        var node = problem.node, weight = 0.0
                        for (e, i) in elements.enumerated() {
                            let inside = mask & (1 << e) != 0
                            node[Int(i)] = inside ? n : (problem.node[Int(i)] != n ? problem.node[Int(i)] : (n + 1) % problem.nodeCount)
                            if inside { weight += weights[e] }
                        }
                        let book = NodeBook(problem: problem, curves: curves, node: node, building: n..<(n + 1))
                        least = min(least, book.cost(n) + weight)
                    }
                    #expect(found.exact, "seed \(seed) node \(n): a node this small is searched to the end")
                    #expect(abs(found.value - least) <= 1e-7 * max(1, abs(least)), "seed \(seed) node \(n): \(found.value), enumerated \(least)")
                    compared += 1
                }
            }
        }
        #expect(compared >= 300, "enough nodes compared: \(compared)")
    }

    /// Never above the optimum, never below the capacity bound it starts from, and above it on
    /// some problems.
    @Test func theBoundLiesBetweenTheCapacityBoundAndTheOptimum() {
        var compared = 0, tighter = 0
        for seed in UInt64(1)...250 {
            let problem = randomProblem(seed: seed, nodes: 5, perNode: 6, migrations: true)
            let exact = SwapSolver().solve(problem)
            guard exact.status == .optimal, case .success(let curves) = AllocationCurves.build(problem) else { continue }
            let lagrangian = LagrangianBound(problem: problem, curves: curves)
            let zero = [Double](repeating: 0, count: problem.nodeCount * problem.resourceCount)
            let (capacityBound, prices) = lagrangian.maximise(startingAt: zero, target: exact.objective, iterations: 50, shouldStop: { false })
            guard capacityBound.isFinite else { continue }
            var relaxation = LagrangianBound.Relaxation()
            lagrangian.evaluate(prices, into: &relaxation)
            var decomposition = NodeDecompositionBound(problem: problem, curves: curves)
            let bound = decomposition.maximise(from: relaxation, target: exact.objective, iterations: 60, shouldStop: { false })
            let tolerance = 1e-7 * max(1, abs(exact.objective))
            #expect(bound <= exact.objective + tolerance, "seed \(seed): bound \(bound) above the optimum \(exact.objective)")
            #expect(bound >= capacityBound - tolerance, "seed \(seed): \(bound) below the capacity bound \(capacityBound)")
            if bound > capacityBound + tolerance { tighter += 1 }
            compared += 1
        }
        print("node decomposition: \(compared) problems, tighter than the capacity bound on \(tighter)")
        #expect(compared >= 50, "enough problems: \(compared)")
        #expect(tighter >= 10, "the decomposition adds something: \(tighter) of \(compared)")
    }

    /// With the searches cut short, the decomposition and its branch and bound prove the
    /// enumerated optimum, reaching it where the local search stopped short.
    @Test func itsBranchAndBoundProvesTheEnumeratedOptimum() {
        var compared = 0, searchedByTree = 0, localMissed = 0
        for seed in UInt64(1)...250 {
            let problem = randomProblem(seed: seed, nodes: 5, perNode: 6, migrations: true)
            let exact = SwapSolver().solve(problem)
            guard exact.status == .optimal else { continue }
            var solver = SwapSolver.localSearchOnly
            solver.decompositionIterations = 100
            solver.proofEffort = 1_000_000
            var phases: [SwapSolver.Progress.Phase] = []
            let proven = solver.solve(problem, progress: { phases.append($0.phase) })
            compared += 1
            let tolerance = SwapSolution.optimalityTolerance * max(1, abs(exact.objective))
            if SwapSolver.localSearchOnly.solve(problem).objective > exact.objective + tolerance { localMissed += 1 }
            let check = SolutionChecker.check(problem, node: proven.node, allocation: proven.allocation)
            #expect(check.violations == [] && abs(check.objective - proven.objective) <= 1e-9 * max(1, abs(proven.objective)), "seed \(seed)")
            #expect(abs(proven.objective - exact.objective) <= tolerance, "seed \(seed): \(proven.objective), optimum \(exact.objective)")
            #expect(proven.status == .optimal && proven.gap == 0, "seed \(seed): \(proven.status), gap \(proven.gap)")
            #expect(!phases.contains(.branchAndBound) || phases.contains(.decomposition), "seed \(seed): the tree follows the decomposition")
            if phases.contains(.branchAndBound) { searchedByTree += 1 }
        }
        print("decomposition branch and bound: \(compared) problems proven, \(searchedByTree) by the tree, \(localMissed) missed by the local search")
        #expect(compared >= 50, "enough problems: \(compared)")
        #expect(searchedByTree >= 5 && localMissed > 0, "the tree has work to do: \(searchedByTree) searched, \(localMissed) missed by the local search")
    }
}
