/// A proven lower bound for the migration variant: relax every node's
/// capacity with a price per unit (λ ≥ 0) and the migration budget with a
/// price per migration (μ ≥ 0). The relaxed problem splits per instance
/// (pick the node and allocation of least priced cost), so for any prices
///
///     L(λ, μ) = Σ_i min_q [cost_i(q, λ) + μ·moved] − Σ λ·usable − μ·budget
///
/// is at most the optimum. With μ set best for λ, the budget's largest gains
/// are taken: L(λ) = Σ_i stay_i − (the largest `budget` gains of moving) − Σ λ·usable.
/// λ follows projected subgradient steps (Polyak's rule towards the best known objective).
///
/// A branch of `MigrationBranchAndBound` fixes some instances' decisions (`decision`): the
/// bound is then that of the problem restricted to them.
struct LagrangianBound {
    let problem: SwapProblem
    let curves: AllocationCurves
    /// Capacity the relaxation prices per node-resource: capacity minus reserve, rounded down
    /// for integral resources (whole allocations never use the fraction).
    let usable: [Double]

    /// `decision[i]`: a node the instance is fixed on, or one of these.
    static let free: Int32 = -1
    static let away: Int32 = -2

    init(problem: SwapProblem, curves: AllocationCurves) {
        self.problem = problem
        self.curves = curves
        let R = problem.resourceCount
        usable = (0..<(problem.nodeCount * R)).map { nr in
            NodeBook.budget(usable: problem.capacity[nr] - problem.reserve[nr], low: 0, integral: problem.integral[nr % R])
        }
    }

    /// What one evaluation leaves: the relaxed choice of each instance, its priced costs, and
    /// the node usage the subgradient steps from. Buffers are reused across evaluations.
    struct Relaxation {
        var usage: [Double] = []
        /// Priced cost at home (a free instance) or where the decision puts it.
        var stay: [Double] = []
        /// Least priced cost on a candidate plus the migration cost (∞ without one).
        var alternative: [Double] = []
        var alternativeNode: [Int32] = []
        /// Allocations at the priced optimum where each instance is in the relaxation, flat
        /// `[instance * R + r]`; and on the best candidate of those with a gain (taken or not).
        var amount: [Double] = []
        var alternativeAmount: [Double] = []
        /// Node each instance takes in the relaxation.
        var choice: [Int32] = []
        /// Positive gains of free instances' moves, largest first.
        var gains: [(gain: Double, instance: Int32)] = []
        /// Migrations the decisions force, and the budget left for free instances.
        var forced = 0
        var budgetLeft = 0
        var value = -Double.infinity

        /// The smallest gain taken and the largest left out (0 when there is none).
        var takenMargin: Double { budgetLeft > 0 && gains.count >= budgetLeft ? gains[budgetLeft - 1].gain : 0 }
        var leftMargin: Double { budgetLeft >= 0 && gains.count > budgetLeft ? gains[budgetLeft].gain : 0 }
    }

    /// The best bound found in at most `iterations` steps, starting from `prices`, and the
    /// capacity prices that give it.
    /// `initialStep` scales the first Polyak steps (small when `prices` are already near).
    func maximise(startingAt prices: [Double], decision: [Int32]? = nil, target upper: Double, iterations: Int,
                  initialStep: Double = 1, relaxation: inout Relaxation, shouldStop: () -> Bool) -> (bound: Double, prices: [Double]) {
        var lambda = prices
        var best = -Double.infinity
        var bestPrices = prices
        var step = initialStep
        var sinceImprovement = 0
        for _ in 0..<iterations {
            if shouldStop() { break }
            let value = evaluate(lambda, decision: decision, into: &relaxation)
            if value == .infinity { return (.infinity, lambda) }
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
            for nr in 0..<relaxation.usage.count {
                let g = relaxation.usage[nr] - usable[nr]
                relaxation.usage[nr] = (lambda[nr] <= 0 && g < 0) ? 0 : g
                norm += relaxation.usage[nr] * relaxation.usage[nr]
            }
            guard norm > 0 else { break }
            let t = step * (upper - value) / norm
            for nr in 0..<lambda.count { lambda[nr] = max(0, lambda[nr] + t * relaxation.usage[nr]) }
        }
        return (best, bestPrices)
    }

    func maximise(startingAt prices: [Double], target upper: Double, iterations: Int, initialStep: Double = 1,
                  shouldStop: () -> Bool) -> (bound: Double, prices: [Double]) {
        var relaxation = Relaxation()
        return maximise(startingAt: prices, target: upper, iterations: iterations, initialStep: initialStep,
                        relaxation: &relaxation, shouldStop: shouldStop)
    }

    /// L(λ) under `decision` (nil: every instance free); ∞ when the decisions force more
    /// migrations than the budget. The relaxed choices and usage are left in `r`.
    @discardableResult
    func evaluate(_ lambda: [Double], decision: [Int32]? = nil, into r: inout Relaxation) -> Double {
        let R = problem.resourceCount, I = problem.instanceCount
        if r.stay.count != I {
            r.amount = .init(repeating: 0, count: I * R)
            r.alternativeAmount = .init(repeating: 0, count: I * R)
            r.stay = .init(repeating: 0, count: I)
            r.alternative = .init(repeating: .infinity, count: I)
            r.alternativeNode = .init(repeating: -1, count: I)
            r.choice = .init(repeating: -1, count: I)
            r.gains.reserveCapacity(I)
        }
        if r.usage.count != lambda.count { r.usage = .init(repeating: 0, count: lambda.count) }
        for nr in 0..<r.usage.count { r.usage[nr] = 0 }
        r.gains.removeAll(keepingCapacity: true)
        r.forced = 0
        var total = 0.0
        for nr in 0..<lambda.count { total -= lambda[nr] * usable[nr] }
        let budget = problem.maxMigrations
        for i in 0..<I {
            let home = problem.node[i]
            let d = decision?[i] ?? Self.free
            var best = Double.infinity, bestNode = -1
            if d < 0, !problem.locked[i], budget > 0 {
                for q in problem.alternatives[i] {
                    let c = pricedCost(i, at: q, lambda) + problem.migrationCost[i]
                    if c < best { best = c; bestNode = q }
                }
            }
            r.alternative[i] = best
            r.alternativeNode[i] = Int32(bestNode)
            if d == Self.free {
                let stay = pricedCost(i, at: home, lambda, amounts: &r.amount)
                r.stay[i] = stay
                r.choice[i] = Int32(home)
                total += stay
                if bestNode >= 0, stay - best > 0 { r.gains.append((stay - best, Int32(i))) }
            } else if d == Self.away {
                guard bestNode >= 0 else { r.value = .infinity; return .infinity }
                r.stay[i] = best
                r.choice[i] = Int32(bestNode)
                total += best
                r.forced += 1
                allocations(i, at: bestNode, lambda, into: &r.amount)
            } else {
                let q = Int(d)
                let c = pricedCost(i, at: q, lambda, amounts: &r.amount) + (q != home ? problem.migrationCost[i] : 0)
                r.stay[i] = c
                r.choice[i] = d
                total += c
                if q != home { r.forced += 1 }
            }
            if d == Self.free, r.gains.last?.instance == Int32(i) {
                // The candidate's allocations, for when the gain is taken.
                allocations(i, at: bestNode, lambda, into: &r.alternativeAmount)
            }
        }
        r.budgetLeft = budget - r.forced
        guard r.budgetLeft >= 0 else { r.value = .infinity; return .infinity }
        r.gains.sort { $0.gain > $1.gain }
        for k in 0..<min(r.budgetLeft, r.gains.count) {
            total -= r.gains[k].gain
            let i = Int(r.gains[k].instance)
            r.choice[i] = r.alternativeNode[i]
            for res in i * R..<(i + 1) * R { r.amount[res] = r.alternativeAmount[res] }
        }
        for i in 0..<I {
            let q = Int(r.choice[i])
            for res in 0..<R { r.usage[q * R + res] += r.amount[i * R + res] }
        }
        r.value = total
        return total
    }

    private func pricedCost(_ i: Int, at q: Int, _ lambda: [Double]) -> Double {
        let R = problem.resourceCount
        var cost = 0.0
        for r in 0..<R { cost += curves.cheapest(i * R + r, price: lambda[q * R + r]).cost }
        return cost
    }

    /// Instance `i`'s allocations at node `q`'s prices, into `amounts[i * R + r]`.
    private func allocations(_ i: Int, at q: Int, _ lambda: [Double], into amounts: inout [Double]) {
        let R = problem.resourceCount
        for r in 0..<R { amounts[i * R + r] = curves.cheapest(i * R + r, price: lambda[q * R + r]).amount }
    }

    /// `pricedCost`, leaving the allocations in `amounts[i * R + r]`.
    private func pricedCost(_ i: Int, at q: Int, _ lambda: [Double], amounts: inout [Double]) -> Double {
        let R = problem.resourceCount
        var cost = 0.0
        for r in 0..<R {
            let (c, a) = curves.cheapest(i * R + r, price: lambda[q * R + r])
            cost += c
            amounts[i * R + r] = a
        }
        return cost
    }
}
