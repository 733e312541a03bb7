/// A proven lower bound for the migration variant: relax every node's
/// capacity with a price per unit (λ ≥ 0) and the migration budget with a
/// price per migration (μ ≥ 0). The relaxed problem splits per instance
/// (pick the node and allocation of least priced cost), so for any prices
///
///     L(λ, μ) = Σ_i min_q [cost_i(q, λ) + μ·moved] − Σ λ·usable − μ·budget
///
/// is at most the optimum. μ is set exactly for each λ; λ follows projected
/// subgradient steps (Polyak's rule towards the best known objective).
struct LagrangianBound {
    let problem: SwapProblem
    let curves: AllocationCurves

    /// The best bound found in at most `iterations` steps, starting from `prices`, and the
    /// capacity prices that give it.
    /// `initialStep` scales the first Polyak steps (small when `prices` are already near).
    func maximise(startingAt prices: [Double], target upper: Double, iterations: Int, initialStep: Double = 1,
                  shouldStop: () -> Bool) -> (bound: Double, prices: [Double]) {
        let R = problem.resourceCount
        var lambda = prices
        var best = -Double.infinity
        var bestPrices = prices
        var step = initialStep
        var sinceImprovement = 0
        var usage = [Double](repeating: 0, count: problem.nodeCount * R)
        var benefit = [Double]()
        benefit.reserveCapacity(problem.instanceCount)
        for _ in 0..<iterations {
            if shouldStop() { break }
            let value = evaluate(lambda, usage: &usage, benefit: &benefit)
            if best == -.infinity || value > best + 1e-12 * max(1, abs(best)) {
                best = value
                bestPrices = lambda
                sinceImprovement = 0
            } else {
                sinceImprovement += 1
                if sinceImprovement >= 10 { step *= 0.5; sinceImprovement = 0 }
            }
            if upper - best <= 1e-9 * max(1, abs(upper)) || step < 1e-6 { break }
            var norm = 0.0
            for nr in 0..<usage.count {
                let g = usage[nr] - (problem.capacity[nr] - problem.reserve[nr])
                usage[nr] = (lambda[nr] <= 0 && g < 0) ? 0 : g
                norm += usage[nr] * usage[nr]
            }
            guard norm > 0 else { break }
            let t = step * (upper - value) / norm
            for nr in 0..<lambda.count { lambda[nr] = max(0, lambda[nr] + t * usage[nr]) }
        }
        return (best, bestPrices)
    }

    /// L(λ, μ*) for the best μ, with each node's relaxed usage in `usage`.
    func evaluate(_ lambda: [Double], usage: inout [Double], benefit: inout [Double]) -> Double {
        let R = problem.resourceCount
        for nr in 0..<usage.count { usage[nr] = 0 }
        benefit.removeAll(keepingCapacity: true)
        var total = 0.0
        for nr in 0..<lambda.count {
            total -= lambda[nr] * (problem.capacity[nr] - problem.reserve[nr])
        }
        // Each instance at home; a move is taken below only if μ allows it.
        var choice = [Int](repeating: -1, count: problem.instanceCount)
        var moveGain: [(gain: Double, instance: Int, node: Int)] = []
        for i in 0..<problem.instanceCount {
            let home = problem.node[i]
            let stay = pricedCost(i, at: home, lambda)
            total += stay
            choice[i] = home
            guard !problem.locked[i], problem.maxMigrations > 0 else { continue }
            var bestCost = Double.infinity, bestNode = -1
            for q in problem.alternatives[i] {
                let c = pricedCost(i, at: q, lambda) + problem.migrationCost[i]
                if c < bestCost { bestCost = c; bestNode = q }
            }
            if bestNode >= 0, stay - bestCost > 0 {
                moveGain.append((stay - bestCost, i, bestNode))
            }
        }
        // μ* is the (budget+1)-th largest gain: the budget's best moves happen.
        let budget = problem.maxMigrations
        moveGain.sort { $0.gain > $1.gain }
        let mu = moveGain.count > budget ? moveGain[budget].gain : 0
        for (k, move) in moveGain.enumerated() where k < budget {
            total -= move.gain - mu
            choice[move.instance] = move.node
        }
        total -= mu * Double(budget)
        for i in 0..<problem.instanceCount {
            let q = choice[i]
            for r in 0..<R {
                usage[q * R + r] += curves.cheapest(i * R + r, price: lambda[q * R + r]).amount
            }
        }
        return total
    }

    private func pricedCost(_ i: Int, at q: Int, _ lambda: [Double]) -> Double {
        let R = problem.resourceCount
        var cost = 0.0
        for r in 0..<R { cost += curves.cheapest(i * R + r, price: lambda[q * R + r]).cost }
        return cost
    }
}
