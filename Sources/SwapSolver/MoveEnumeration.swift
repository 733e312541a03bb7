/// Exact search for small migration problems: every set of at most
/// `maxMigrations` moves, each set's allocations solved exactly. It is used
/// only when the number of sets is below a limit, and then proves optimality.
///
/// Inner levels apply their move; the last level only weighs its move. A
/// move that touches no node changed on the way down gains what it gains
/// from the starting state, so that figure is computed once.
enum MoveEnumeration {
    /// How many move sets there are, or nil when more than `limit`.
    static func count(_ problem: SwapProblem, limit: Int) -> Int? {
        let moves = (0..<problem.instanceCount).reduce(0) {
            $0 + (problem.locked[$1] ? 0 : problem.alternatives[$1].count)
        }
        var total = 1, term = 1
        for k in 0..<min(problem.maxMigrations, moves) {
            let next = term.multipliedReportingOverflow(by: moves - k)
            guard !next.overflow else { return nil }
            term = next.partialValue / (k + 1)
            total += term
            if total > limit { return nil }
        }
        return total
    }

    private struct Weighed {
        var delta: Double
        /// The move's node leaves overload / the target becomes overloaded.
        var relieves: Bool
        var overloads: Bool
    }

    /// The best assignment of instances to nodes over all move sets; `complete`
    /// is false when `shouldStop` ended the search early.
    static func best(_ problem: SwapProblem, curves: AllocationCurves,
                     shouldStop: () -> Bool) -> (node: [Int], complete: Bool) {
        var search = MigrationSearch(problem: problem, curves: curves)
        var moves: [(instance: Int, target: Int)] = []
        for i in 0..<problem.instanceCount where !problem.locked[i] {
            for q in problem.alternatives[i] { moves.append((i, q)) }
        }
        func weigh(_ m: Int) -> Weighed {
            let (i, q) = moves[m]
            let p = search.node[i], book = search.book
            let delta = book.cost(p, excluding: i) - search.nodeCost[p]
                + book.cost(q, including: i) - search.nodeCost[q] + problem.migrationCost[i]
            return Weighed(delta: delta,
                           relieves: book.isOverloaded(p) && !book.isOverloaded(p, excluding: i),
                           overloads: book.isOverloaded(q, including: i))
        }
        let initial = moves.indices.map(weigh)
        var touched = [Bool](repeating: false, count: problem.nodeCount)
        func overloadedNodes() -> Set<Int> {
            Set((0..<problem.nodeCount).filter { search.book.isOverloaded($0) })
        }
        var bestNode = search.node
        var bestObjective = overloadedNodes().isEmpty ? search.objective : .infinity

        var stopped = false
        var visits = 0
        func explore(from start: Int, depth: Int) {
            let overloaded = overloadedNodes()
            var k = start
            while k < moves.count && !stopped {
                visits += 1
                if visits & 4095 == 0, shouldStop() { stopped = true; return }
                let (i, q) = moves[k]
                let p = search.node[i]
                let w = touched[p] || touched[q] ? weigh(k) : initial[k]
                var remaining = overloaded
                if w.relieves { remaining.remove(p) }
                if w.overloads { remaining.insert(q) }
                let objective = search.objective + w.delta
                if remaining.isEmpty, bestObjective == .infinity || objective < bestObjective - 1e-12 * max(1, abs(bestObjective)) {
                    bestObjective = objective
                    bestNode = search.node
                    bestNode[i] = q
                }
                var next = k + 1
                while next < moves.count && moves[next].instance == i { next += 1 }
                if depth + 1 < problem.maxMigrations && next < moves.count {
                    let (wasP, wasQ) = (touched[p], touched[q])
                    touched[p] = true; touched[q] = true
                    search.apply(.init(instance: i, target: q, delta: 0, budgetChange: 1))
                    explore(from: next, depth: depth + 1)
                    search.apply(.init(instance: i, target: p, delta: 0, budgetChange: -1))
                    touched[p] = wasP; touched[q] = wasQ
                }
                k += 1
            }
        }
        if problem.maxMigrations > 0 { explore(from: 0, depth: 0) }
        return (bestNode, !stopped)
    }
}
