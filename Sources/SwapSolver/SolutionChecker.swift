/// Checks a solution against the model of `swap-problem.md` from the
/// assignment alone and recomputes its objective. It shares no code with the
/// solvers, so a solver's own objective is never trusted.
public struct SolutionCheck: Sendable, Equatable {
    /// Broken constraints, each naming instance or node, resource and amounts.
    public var violations: [String]
    public var objective: Double
    public var migrations: Int

    public var isFeasible: Bool { violations.isEmpty }
}

public enum SolutionChecker {
    /// `tolerance` is absolute plus relative to the bound being checked.
    public static func check(_ problem: SwapProblem, node: [Int], allocation: [Double],
                             tolerance: Double = 1e-6) -> SolutionCheck {
        let R = problem.resourceCount
        var violations: [String] = []
        func note(_ text: String) { if violations.count < 100 { violations.append(text) } }
        func above(_ value: Double, _ bound: Double) -> Bool { value > bound + tolerance * max(1, abs(bound)) }

        guard node.count == problem.instanceCount, allocation.count == problem.instanceCount * R else {
            return SolutionCheck(violations: ["solution lists \(node.count) instances, the problem \(problem.instanceCount)"],
                                 objective: .nan, migrations: 0)
        }
        var objective = 0.0
        var migrations = 0
        var used = [Double](repeating: 0, count: problem.nodeCount * R)
        for i in 0..<problem.instanceCount {
            let id = problem.instanceIDs[i]
            let n = node[i]
            guard n >= 0, n < problem.nodeCount else { note("instance \(id): no such node index \(n)"); continue }
            if n != problem.node[i] {
                migrations += 1
                objective += problem.migrationCost[i]
                if !problem.alternatives[i].contains(n) {
                    note("instance \(id): node \(problem.nodeIDs[n]) is not among its candidates")
                }
                if problem.locked[i] { note("instance \(id): locked, but moved to \(problem.nodeIDs[n])") }
            }
            for r in 0..<R {
                let k = i * R + r
                let a = allocation[k], a0 = problem.allocation[k], d = problem.demand[k]
                let name = problem.resources[r]
                guard a.isFinite else { note("instance \(id) \(name): allocation \(a) is not a number"); continue }
                if problem.locked[i], abs(a - a0) > tolerance * max(1, abs(a0)) {
                    note("instance \(id) \(name): locked at \(a0), given \(a)")
                }
                if above(problem.minimum[k], a) { note("instance \(id) \(name): \(a) below SLA minimum \(problem.minimum[k])") }
                if above(a, problem.maximum[k]) { note("instance \(id) \(name): \(a) above maximum \(problem.maximum[k])") }
                if above(abs(a - a0), problem.maxChange[r]) {
                    note("instance \(id) \(name): change \(a - a0) exceeds maxChange \(problem.maxChange[r])")
                }
                if problem.integral[r], abs(a - a.rounded()) > tolerance {
                    note("instance \(id) \(name): \(a) is not whole")
                }
                used[n * R + r] += a
                objective += problem.waste[r] * max(0, a - d)
                objective += problem.weight[i] * problem.shortfall[r] * max(0, d - a)
                objective += problem.change[r] * abs(a - a0)
            }
        }
        if migrations > problem.maxMigrations {
            note("\(migrations) migrations, the budget is \(problem.maxMigrations)")
        }
        for n in 0..<problem.nodeCount {
            for r in 0..<R {
                let limit = problem.capacity[n * R + r] - problem.reserve[n * R + r]
                if above(used[n * R + r], limit) {
                    note("node \(problem.nodeIDs[n]) \(problem.resources[r]): \(used[n * R + r]) allocated, capacity minus reserve is \(limit)")
                }
            }
        }
        return SolutionCheck(violations: violations, objective: objective, migrations: migrations)
    }
}
