import PoolCore
import Testing
@testable import SwapSolver

/// The node-decomposition bound: each node's minimum is exact, and the bound lies between the
/// capacity-price bound it starts from and the enumerated optimum.
@Suite("Node-decomposition bound")
struct NodeDecompositionTests {
    /// The minima the dual keeps (solved warm, with reused buffers) and the
    /// probes are each a fresh search's minimum of the same node under the same prices.
    @Test func theDualsNodeMinimaAreFreshMinima() {
        var compared = 0, probed = 0
        for seed in UInt64(1)...30 {
            let problem = randomProblem(seed: seed, nodes: 6, perNode: 5, migrations: true)
            guard case .success(let curves) = AllocationCurves.build(problem) else { continue }
            var relaxation = LagrangianBound.Relaxation()
            LagrangianBound(problem: problem, curves: curves)
                .evaluate([Double](repeating: 0, count: problem.nodeCount * problem.resourceCount), into: &relaxation)
            var decomposition = NodeDecompositionBound(problem: problem, curves: curves)
            var dual = decomposition.start(from: relaxation)
            var random = SplitMix64(seed: seed &+ 5)
            for i in 0..<problem.instanceCount where dual.decision[i] == LagrangianBound.free && random.next() % 3 == 0 {
                decomposition.decide(i, random.next() % 2 == 0 ? Int32(problem.node[i]) : LagrangianBound.away, in: &dual)
            }
            _ = decomposition.ascend(&dual, target: 1e4, iterations: 15, shouldStop: { false })
            func fresh(_ n: Int, _ decision: [Int32]) -> (value: Double, exact: Bool) {
                let elements = decomposition.elements(of: n).map(Int.init)
                let weights = elements.map { i in (problem.node[i] != n ? problem.migrationCost[i] + dual.mu : 0) - dual.pi[i] }
                let start: [NodeDecompositionBound.State] = elements.map { i in
                    let d = decision[i]
                    if d == LagrangianBound.free { return .open }
                    if d == LagrangianBound.away { return problem.node[i] != n ? .open : .out }
                    return Int(d) == n ? .taken : .out
                }
                return decomposition.nodeMinimum(n, weights: weights, start: start)
            }
            for n in 0..<problem.nodeCount {
                let minimum = fresh(n, dual.decision)
                #expect(minimum.exact)
                #expect(abs(dual.value[n] - minimum.value) <= 1e-9 * max(1, abs(minimum.value)), "seed \(seed) node \(n): \(dual.value[n]) against \(minimum.value)")
                compared += 1
            }
            for i in 0..<problem.instanceCount where dual.decision[i] == LagrangianBound.free {
                for d in [Int32(problem.node[i]), LagrangianBound.away] {
                    var decision = dual.decision
                    decision[i] = d
                    var expected = dual.bound
                    for n in Set([problem.node[i]] + problem.alternatives[i]) { expected += fresh(n, decision).value - dual.value[n] }
                    let probe = decomposition.probe(i, d, in: &dual)
                    #expect(abs(probe - expected) <= 1e-9 * max(1, abs(expected)), "seed \(seed) instance \(i): probe \(probe) against \(expected)")
                    probed += 1
                }
            }
        }
        #expect(compared >= 120 && probed >= 100, "enough nodes and probes: \(compared), \(probed)")
    }

    /// The node search prices each set next to a pass's snapshot (L plus one element, U less
    /// one) from prefix sums; each must equal the full evaluation of that set, overloaded and
    /// whole-unit resources included.
    @Test func snapshotPricesEqualFullEvaluations() {
        var compared = 0, overloaded = 0
        for seed in UInt64(1)...40 {
            let problem = randomProblem(seed: seed, nodes: 4, perNode: 6, migrations: true)
            guard case .success(let curves) = AllocationCurves.build(problem) else { continue }
            let decomposition = NodeDecompositionBound(problem: problem, curves: curves)
            var random = SplitMix64(seed: seed &+ 99)
            for n in 0..<problem.nodeCount {
                let count = decomposition.elements(of: n).count
                for _ in 0..<5 {
                    let weights = (0..<count).map { _ in Double(random.next() % 4_000) / 100 - 30 }
                    let state: [NodeDecompositionBound.State] = (0..<count).map { _ in [.open, .open, .taken, .out][Int(random.next() % 4)] }
                    for (snapshot, full) in decomposition.snapshotCheck(n, weights: weights, state: state) {
                        #expect(abs(snapshot - full) <= 1e-9 * max(1, abs(full)), "seed \(seed) node \(n): \(snapshot) against \(full)")
                        if full >= NodeBook.overloadPenalty / 1e6 { overloaded += 1 }
                        compared += 1
                    }
                }
            }
        }
        #expect(compared >= 2_000, "enough sets compared: \(compared)")
        #expect(overloaded >= 50, "overloaded sets among them: \(overloaded)")
    }

    /// A node's minimum against every subset of the instances that may sit on it that keeps
    /// the decided ones (taken or left out), each costed by `NodeBook` with only that subset on
    /// the node; a search cut short by a small evaluation limit still never exceeds it.
    @Test func eachNodesMinimumIsTheLeastOverEverySubset() {
        var compared = 0, cutShort = 0
        for seed in UInt64(1)...60 {
            let problem = randomProblem(seed: seed, nodes: 4, perNode: 5, migrations: true)
            guard case .success(let curves) = AllocationCurves.build(problem) else { continue }
            let decomposition = NodeDecompositionBound(problem: problem, curves: curves)
            var random = SplitMix64(seed: seed)
            for n in 0..<problem.nodeCount {
                let elements = Array(decomposition.elements(of: n))
                guard elements.count <= 14 else { continue }
                for round in 0..<4 {
                    let weights = elements.map { _ in Double(random.next() % 4_000) / 100 - 30 }
                    // Rounds 2 and 3 decide some elements first.
                    let start: [NodeDecompositionBound.State] = elements.map { _ in
                        round < 2 ? .open : [.open, .open, .taken, .out][Int(random.next() % 4)]
                    }
                    let limit = round % 2 == 0 ? nil : Int(random.next() % 40)
                    let found = decomposition.nodeMinimum(n, weights: weights, start: start, limit: limit)
                    var least = Double.infinity
                    for mask in 0..<(1 << elements.count) {
                        var node = problem.node, weight = 0.0, keeps = true
                        for (e, i) in elements.enumerated() {
                            let inside = mask & (1 << e) != 0
                            if (start[e] == .taken && !inside) || (start[e] == .out && inside) { keeps = false; break }
                            node[Int(i)] = inside ? n : (problem.node[Int(i)] != n ? problem.node[Int(i)] : (n + 1) % problem.nodeCount)
                            if inside { weight += weights[e] }
                        }
                        guard keeps else { continue }
                        let book = NodeBook(problem: problem, curves: curves, node: node, building: n..<(n + 1))
                        least = min(least, book.cost(n) + weight)
                    }
                    let tolerance = 1e-7 * max(1, abs(least))
                    if limit == nil {
                        #expect(found.exact, "seed \(seed) node \(n): a node this small is searched to the end")
                    }
                    if found.exact {
                        #expect(abs(found.value - least) <= tolerance, "seed \(seed) node \(n): \(found.value), enumerated \(least)")
                    } else {
                        #expect(found.value <= least + tolerance, "seed \(seed) node \(n): cut short at \(found.value), above \(least)")
                        cutShort += 1
                    }
                    compared += 1
                }
            }
        }
        #expect(compared >= 400, "enough nodes compared: \(compared)")
        #expect(cutShort >= 20, "enough searches cut short: \(cutShort)")
    }

    /// Under random decisions (home, away, a node), the bound after subgradient steps and the
    /// bound a probe gives for one more decision never exceed the best plan that keeps them.
    @Test func decidedBoundsAndProbesNeverExceedTheRestrictedOptimum() {
        var checked = 0, probed = 0
        for seed in UInt64(1)...120 {
            let problem = randomProblem(seed: seed, nodes: 3, perNode: 3, migrations: true)
            guard case .success(let curves) = AllocationCurves.build(problem) else { continue }
            let assignments = allAssignments(problem)
            let lagrangian = LagrangianBound(problem: problem, curves: curves)
            let zero = [Double](repeating: 0, count: problem.nodeCount * problem.resourceCount)
            var relaxation = LagrangianBound.Relaxation()
            lagrangian.evaluate(zero, into: &relaxation)
            var random = SplitMix64(seed: seed)
            func keeps(_ node: [Int], _ decision: [Int32]) -> Bool {
                (0..<problem.instanceCount).allSatisfy { i in
                    let d = decision[i]
                    return d == LagrangianBound.free || (d == LagrangianBound.away ? node[i] != problem.node[i] : node[i] == Int(d))
                }
            }
            for _ in 0..<4 {
                var decomposition = NodeDecompositionBound(problem: problem, curves: curves)
                var dual = decomposition.start(from: relaxation)
                for i in 0..<problem.instanceCount where dual.decision[i] == LagrangianBound.free {
                    switch random.next() % 4 {
                    case 0: decomposition.decide(i, Int32(problem.node[i]), in: &dual)
                    case 1: decomposition.decide(i, LagrangianBound.away, in: &dual)
                    case 2: decomposition.decide(i, Int32(problem.alternatives[i][Int(random.next() % UInt64(problem.alternatives[i].count))]), in: &dual)
                    default: break
                    }
                }
                let best = assignments.filter { keeps($0, dual.decision) }.compactMap { bruteForceObjective(problem, node: $0) }.min() ?? .infinity
                let target = best.isFinite ? best + 1 : 1e6
                let bound = decomposition.ascend(&dual, target: target, iterations: 30, shouldStop: { false })
                let tolerance = 1e-7 * max(1, abs(best))
                #expect(bound <= best + tolerance, "seed \(seed): bound \(bound) above the restricted optimum \(best)")
                if best.isFinite { checked += 1 }
                for i in 0..<problem.instanceCount where dual.decision[i] == LagrangianBound.free {
                    for d in [Int32(problem.node[i]), LagrangianBound.away] {
                        var decision = dual.decision
                        decision[i] = d
                        let restricted = assignments.filter { keeps($0, decision) }.compactMap { bruteForceObjective(problem, node: $0) }.min() ?? .infinity
                        let probe = decomposition.probe(i, d, in: &dual)
                        #expect(probe <= restricted + tolerance, "seed \(seed) instance \(i): probe \(probe) above \(restricted)")
                        if restricted.isFinite { probed += 1 }
                    }
                }
            }
        }
        // Only cases with a plan that keeps the decisions count (the others pass trivially).
        #expect(checked >= 150 && probed >= 150, "enough cases with a plan: \(checked) bounds, \(probed) probes")
    }

    /// With many nodes (solved on two threads) and work limits that end inside the
    /// decomposition and inside its tree, two solves give the same plan and bound, and the bound
    /// stays below the unlimited solve's plan.
    @Test func aWorkLimitGivesTheSameBoundOnEveryRun() {
        var compared = 0
        for seed in UInt64(1)...4 {
            var problem = randomProblem(seed: seed, nodes: 40, perNode: 4, migrations: true)
            problem.alternatives = problem.alternatives.map { Array($0.prefix(2)) }
            problem.maxMigrations = 4
            // Roomier nodes: a feasible pool with some congestion.
            problem.capacity = problem.capacity.map { ($0 * 1.5).rounded() }
            var solver = SwapSolver()
            solver.exhaustiveLimit = 0
            solver.patience = 50
            solver.decompositionIterations = 10  // a gap left at the root, for the tree to work on
            var full: [SwapSolver.Progress] = []
            let unlimited = solver.solve(problem, progress: { full.append($0) })
            // Each phase's progress comes at its end: one unit short of it ends inside it.
            let ends = full.filter { $0.phase == .decomposition || $0.phase == .branchAndBound }.map(\.work)
            for end in ends {
                solver.workLimit = end - 1
                var phases: [SwapSolver.Progress.Phase] = []
                let a = solver.solve(problem, progress: { phases.append($0.phase) }), b = solver.solve(problem)
                #expect(phases.contains(.decomposition), "seed \(seed): the decomposition ran under the limit \(end - 1)")
                #expect(a.objective == b.objective && a.node == b.node && a.lowerBound == b.lowerBound, "seed \(seed), limit \(end - 1)")
                #expect(a.lowerBound <= unlimited.objective + 1e-9 * max(1, abs(unlimited.objective)), "seed \(seed)")
                compared += 1
            }
        }
        #expect(compared >= 4, "enough limits inside the decomposition and its tree: \(compared)")
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
