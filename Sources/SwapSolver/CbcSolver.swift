#if Cbc
import CCbc
import Foundation

/// The swap model as a MILP solved by COIN-OR Cbc, to cross-check the exact
/// solvers. It shares no code with them: bounds, costs and the formulation
/// are written out here from `swap-problem.md`.
///
/// Per instance i, resource r and allowed node q: allocation y(i,q,r) ≥ 0;
/// per movable instance a binary x(i,q) choosing its node; per instance and
/// resource waste u, shortfall s and change c ≥ 0 with
/// Σq y − u + s = demand, Σq y − c ≤ a0, −Σq y − c ≤ −a0.
public struct CbcSolver: Sendable {
    public var timeLimit: Double = 60

    public init() {}

    /// Cbc's solve keeps state in statics of its own (its parameter tables), so two solves at
    /// once in one process can answer wrongly: one at a time.
    private static let oneAtATime = NSLock()

    public func solve(_ p: SwapProblem) -> SwapSolution {
        Self.oneAtATime.withLock { solveAlone(p) }
    }

    private func solveAlone(_ p: SwapProblem) -> SwapSolution {
        let R = p.resourceCount
        guard let model = Cbc_newModel() else { return .infeasible("Cbc could not create a model", problem: p) }
        defer { Cbc_deleteModel(model) }
        Cbc_setLogLevel(model, 0)
        Cbc_setMaximumSeconds(model, timeLimit)
        Cbc_setParameter(model, "sec", String(timeLimit))
        Cbc_setAllowableFractionGap(model, 1e-9)
        Cbc_setAllowableGap(model, 1e-9)

        var columns: Int32 = 0
        func column(lower: Double, upper: Double, cost: Double, integer: Bool) -> Int32 {
            Cbc_addCol(model, "", lower, upper, cost, integer ? 1 : 0, 0, nil, nil)
            defer { columns += 1 }
            return columns
        }
        func row(_ entries: [(Int32, Double)], _ sense: Character, _ rhs: Double) {
            var cols = entries.map { Int32($0.0) }, coefs = entries.map { $0.1 }
            Cbc_addRow(model, "", Int32(entries.count), &cols, &coefs, CChar(sense.asciiValue!), rhs)
        }

        var capacityTerms = [[(Int32, Double)]](repeating: [], count: p.nodeCount * R)
        var budgetTerms: [(Int32, Double)] = []
        var choice: [[(node: Int, x: Int32)]] = []
        var amounts: [[(node: Int, r: Int, y: Int32)]] = []
        for i in 0..<p.instanceCount {
            let movable = !p.locked[i] && p.maxMigrations > 0 && !p.alternatives[i].isEmpty
            let nodes = movable ? [p.node[i]] + p.alternatives[i] : [p.node[i]]
            var xs: [(node: Int, x: Int32)] = []
            if movable {
                for q in nodes {
                    let away = q != p.node[i]
                    xs.append((q, column(lower: 0, upper: 1, cost: away ? p.migrationCost[i] : 0, integer: true)))
                    if away { budgetTerms.append((xs.last!.x, 1)) }
                }
                row(xs.map { ($0.x, 1) }, "E", 1)
            }
            choice.append(xs)
            var ys: [(node: Int, r: Int, y: Int32)] = []
            for r in 0..<R {
                let k = i * R + r, a0 = p.allocation[k]
                let lower = p.locked[i] ? a0 : max(p.minimum[k], a0 - p.maxChange[r])
                let upper = p.locked[i] ? a0 : min(p.maximum[k], a0 + p.maxChange[r])
                var sum: [(Int32, Double)] = []
                for (index, q) in nodes.enumerated() {
                    // A finite bound for the x-linking row: no node holds more than its capacity.
                    let nodeUpper = min(upper, max(lower, p.capacity[q * R + r] - p.reserve[q * R + r]))
                    let y: Int32
                    if movable {
                        y = column(lower: 0, upper: .infinity, cost: 0, integer: p.integral[r])
                        row([(y, 1), (xs[index].x, -nodeUpper)], "L", 0)
                        row([(y, 1), (xs[index].x, -lower)], "G", 0)
                    } else {
                        y = column(lower: lower, upper: nodeUpper, cost: 0, integer: p.integral[r])
                    }
                    ys.append((q, r, y))
                    sum.append((y, 1))
                    capacityTerms[q * R + r].append((y, 1))
                }
                let u = column(lower: 0, upper: .infinity, cost: p.waste[r], integer: false)
                let s = column(lower: 0, upper: .infinity, cost: p.weight[i] * p.shortfall[r], integer: false)
                let c = column(lower: 0, upper: .infinity, cost: p.change[r], integer: false)
                row(sum + [(u, -1), (s, 1)], "E", p.demand[k])
                row(sum + [(c, -1)], "L", a0)
                row(sum.map { ($0.0, -1) } + [(c, -1)], "L", -a0)
            }
            amounts.append(ys)
        }
        for n in 0..<p.nodeCount {
            for r in 0..<R where !capacityTerms[n * R + r].isEmpty {
                row(capacityTerms[n * R + r], "L", p.capacity[n * R + r] - p.reserve[n * R + r])
            }
        }
        if !budgetTerms.isEmpty { row(budgetTerms, "L", Double(p.maxMigrations)) }

        Cbc_solve(model)
        if Cbc_isProvenInfeasible(model) != 0 {
            return .infeasible("Cbc: proven infeasible", problem: p)
        }
        guard let values = Cbc_getColSolution(model) else {
            return .infeasible("Cbc found no solution in \(timeLimit) s", problem: p)
        }
        var node = p.node
        var allocation = [Double](repeating: 0, count: p.instanceCount * R)
        for i in 0..<p.instanceCount {
            if let chosen = choice[i].max(by: { values[Int($0.x)] < values[Int($1.x)] }) { node[i] = chosen.node }
            for entry in amounts[i] where entry.node == node[i] {
                var value = values[Int(entry.y)]
                if p.integral[entry.r] { value = value.rounded() }
                allocation[i * R + entry.r] = value
            }
        }
        let objective = Cbc_getObjValue(model)
        let optimal = Cbc_isProvenOptimal(model) != 0
        return SwapSolution(status: optimal ? .optimal : .feasible, objective: objective,
                            lowerBound: optimal ? objective : Cbc_getBestPossibleObjValue(model),
                            node: node, allocation: allocation)
    }
}
#endif
