import PoolCore
@testable import SwapSolver

/// Small random problems whose every breakpoint (allocations, demands, SLA
/// bounds, maxChange, capacities) lies on a 0.5 grid, so an optimum lies on
/// the grid too and brute force over it is exact. Resource 0 is continuous,
/// resource 1 integral.
func randomProblem(seed: UInt64, nodes: Int = 3, perNode: Int = 3, migrations: Bool) -> SwapProblem {
    var rng = SplitMix64(seed: seed)
    func half(_ range: ClosedRange<Int>) -> Double { Double(Int.random(in: range, using: &rng)) / 2 }
    var capacity: [Double] = [], reserve: [Double] = []
    for _ in 0..<nodes {
        capacity += [half(10...24), Double(Int.random(in: 1...6, using: &rng))]
        reserve += [half(0...2), half(0...1)]
    }
    var node: [Int] = [], allocation: [Double] = [], demand: [Double] = [], minimum: [Double] = [], maximum: [Double] = []
    var weight: [Double] = [], locked: [Bool] = [], migrationCost: [Double] = [], alternatives: [[Int]] = [], ids: [String] = []
    for n in 0..<nodes {
        for _ in 0..<Int.random(in: 1...perNode, using: &rng) {
            ids.append("i\(ids.count + 1)")
            node.append(n)
            let cpu = half(1...8), gpu = Double(Int.random(in: 0...2, using: &rng))
            allocation += [cpu, gpu]
            demand += [half(0...12), Double(Int.random(in: 0...4, using: &rng)) / 2]
            minimum += [min(cpu, half(0...4)), min(gpu, Double(Int.random(in: 0...1, using: &rng)))]
            maximum += [cpu + half(0...6), gpu + Double(Int.random(in: 0...2, using: &rng))]
            weight.append([1, 3, 10].randomElement(using: &rng)!)
            locked.append(Int.random(in: 0..<8, using: &rng) == 0)
            migrationCost.append(half(0...4))
            var others: [Int] = []
            if migrations {
                for q in 0..<nodes where q != n && Bool.random(using: &rng) { others.append(q) }
            }
            alternatives.append(others)
        }
    }
    return SwapProblem(
        resources: ["cpu", "gpu"], integral: [false, true],
        waste: [1, 8], shortfall: [10, 80], change: [0.25, 0.5],
        maxChange: [Bool.random(using: &rng) ? half(2...4) : .infinity, 1],
        maxMigrations: migrations ? Int.random(in: 1...2, using: &rng) : 0,
        nodeIDs: (0..<nodes).map { "n\($0 + 1)" }, capacity: capacity, reserve: reserve,
        instanceIDs: ids, node: node, allocation: allocation, demand: demand, minimum: minimum, maximum: maximum,
        weight: weight, locked: locked, migrationCost: migrationCost, alternatives: alternatives)
}

/// The optimum for a fixed assignment by brute force over the 0.5 grid (1 for
/// integral resources), node and resource at a time; nil when infeasible.
func bruteForceObjective(_ p: SwapProblem, node assignment: [Int]) -> Double? {
    let R = p.resourceCount
    var total = 0.0
    for i in 0..<p.instanceCount where assignment[i] != p.node[i] { total += p.migrationCost[i] }
    for n in 0..<p.nodeCount {
        let members = (0..<p.instanceCount).filter { assignment[$0] == n }
        for r in 0..<R {
            let step = p.integral[r] ? 1.0 : 0.5
            var choices: [[Double]] = []
            for i in members {
                let k = i * R + r, a0 = p.allocation[k]
                var values: [Double] = []
                var a = 0.0
                while a <= 40 {
                    let allowed = p.locked[i] ? a == a0
                        : a >= p.minimum[k] && a <= p.maximum[k] && abs(a - a0) <= p.maxChange[r]
                    if allowed { values.append(a) }
                    a += step
                }
                if values.isEmpty { return nil }
                choices.append(values)
            }
            var best = Double.infinity
            func search(_ j: Int, used: Double, cost: Double) {
                if used > p.usable(node: n, r) + 1e-9 { return }
                if j == members.count { best = min(best, cost); return }
                for a in choices[j] { search(j + 1, used: used + a, cost: cost + p.cost(instance: members[j], r, amount: a)) }
            }
            search(0, used: 0, cost: 0)
            guard best.isFinite else { return nil }
            total += best
        }
    }
    return total
}

/// Every assignment within the migration budget, each as node per instance.
func allAssignments(_ p: SwapProblem) -> [[Int]] {
    var out: [[Int]] = []
    var current = p.node
    func visit(_ i: Int, moved: Int) {
        if i == p.instanceCount { out.append(current); return }
        visit(i + 1, moved: moved)
        guard !p.locked[i], moved < p.maxMigrations else { return }
        for q in p.alternatives[i] {
            current[i] = q
            visit(i + 1, moved: moved + 1)
            current[i] = p.node[i]
        }
    }
    visit(0, moved: 0)
    return out
}

extension SwapSolver {
    /// The local search alone: no enumeration, no iterated search, no branch and bound.
    static var localSearchOnly: SwapSolver {
        var solver = SwapSolver()
        solver.exhaustiveLimit = 0
        solver.patience = 0
        solver.proofEffort = 0
        solver.decompositionIterations = 0
        return solver
    }
}
