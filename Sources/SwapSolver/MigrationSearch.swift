/// Local search over which instances move where, with every node's
/// allocations re-solved exactly (`NodeBook`) for each move it weighs.
///
/// 1. Greedy: a queue of each instance's best move, most improving first;
///    after a move, every instance whose move touches the two nodes is
///    weighed again, so queued figures are exact when taken.
/// 2. Exchange: once the migration budget is spent, undo the migration that
///    gains least if a better one can take its place.
struct MigrationSearch {
    struct Move {
        var instance: Int
        var target: Int
        var delta: Double
        /// +1 when the move adds a migration, -1 when it returns home, 0 otherwise.
        var budgetChange: Int
    }

    let problem: SwapProblem
    private(set) var book: NodeBook
    private(set) var node: [Int]
    private(set) var nodeCost: [Double]
    private(set) var migrations = 0
    /// The instances away from home, in no order; `migratedPosition[i]` is i's index in it or -1.
    private(set) var migrated: [Int32] = []
    private var migratedPosition: [Int32]
    private(set) var objective: Double
    /// Instances whose moves involve a node: it is their home or a candidate.
    let dependents: [[Int32]]
    let movable: [Int]
    private var stamp: [Int]
    /// Moves `bestMove` does not offer, keyed `instance * nodeCount + node` (a kick's tabu).
    var forbidden: Set<Int> = []
    /// Moves since the log was started, each with the node the instance left (nil: not logging).
    var log: [(instance: Int32, from: Int32)]?
    /// Instances whose moves were weighed so far (and repair trials): the search's unit of work.
    private(set) var work = 0
    /// The search stops once `work` reaches this.
    var workLimit = Int.max
    static let epsilon = 1e-9

    /// `start`: where each instance is (its home unless a warm start says otherwise; a valid
    /// assignment within the migration budget).
    init(problem: SwapProblem, curves: AllocationCurves, start: [Int]? = nil) {
        self.problem = problem
        let start = start ?? problem.node
        book = NodeBook(problem: problem, curves: curves, node: start)
        node = start
        nodeCost = (0..<problem.nodeCount).map { [book] in book.cost($0) }
        objective = nodeCost.reduce(0, +)
        migratedPosition = Array(repeating: -1, count: problem.instanceCount)
        for i in 0..<problem.instanceCount where start[i] != problem.node[i] {
            assert(!problem.locked[i] && problem.alternatives[i].contains(start[i]), "a start moves only movable instances to their candidates")
            migrations += 1
            objective += problem.migrationCost[i]
            migratedPosition[i] = Int32(migrated.count)
            migrated.append(Int32(i))
        }
        assert(migrations <= problem.maxMigrations, "a start keeps the budget")
        var dependents = [[Int32]](repeating: [], count: problem.nodeCount)
        var movable: [Int] = []
        for i in 0..<problem.instanceCount where !problem.locked[i] && !problem.alternatives[i].isEmpty {
            movable.append(i)
            dependents[problem.node[i]].append(Int32(i))
            for q in problem.alternatives[i] { dependents[q].append(Int32(i)) }
        }
        self.dependents = dependents
        self.movable = movable
        stamp = Array(repeating: 0, count: problem.instanceCount)
    }

    /// True when every node holds its members' lowest feasible allocations.
    var isFeasible: Bool { !(0..<problem.nodeCount).contains { book.isOverloaded($0) } }

    /// The best move of instance `i`, if any target is allowed.
    func bestMove(_ i: Int, budgetLeft: Bool) -> Move? {
        let p = node[i], home = problem.node[i]
        let removal = book.cost(p, excluding: i) - nodeCost[p]
        let cost = problem.migrationCost[i]
        let awayNow = p != home
        var best: Move?
        func consider(_ q: Int) {
            guard q != p else { return }
            if !forbidden.isEmpty, forbidden.contains(i * problem.nodeCount + q) { return }
            let change = (q != home ? 1 : 0) - (awayNow ? 1 : 0)
            if change > 0 && !budgetLeft { return }
            let delta = removal + book.cost(q, including: i) - nodeCost[q]
                + (q != home ? cost : 0) - (awayNow ? cost : 0)
            if best == nil || delta < best!.delta {
                best = Move(instance: i, target: q, delta: delta, budgetChange: change)
            }
        }
        consider(home)
        for q in problem.alternatives[i] { consider(q) }
        return best
    }

    /// Puts back the objective recorded before moves that were then undone one by one (their
    /// deltas summed would leave rounding behind).
    mutating func restore(objective recorded: Double) { objective = recorded }

    /// Whether to stop: asked or out of work.
    private func stopping(_ shouldStop: () -> Bool) -> Bool { work >= workLimit || shouldStop() }

    mutating func apply(_ move: Move) {
        let i = move.instance, p = node[i], q = move.target
        book.move(i, from: p, to: q)
        node[i] = q
        log?.append((Int32(i), Int32(p)))
        let home = problem.node[i]
        migrations += (q != home ? 1 : 0) - (p != home ? 1 : 0)
        if p == home, q != home {
            migratedPosition[i] = Int32(migrated.count)
            migrated.append(Int32(i))
        } else if p != home, q == home {
            let k = Int(migratedPosition[i]), last = migrated.removeLast()
            if Int(last) != i { migrated[k] = last; migratedPosition[Int(last)] = Int32(k) }
            migratedPosition[i] = -1
        }
        let before = nodeCost[p] + nodeCost[q]
        nodeCost[p] = book.cost(p)
        nodeCost[q] = book.cost(q)
        objective += nodeCost[p] + nodeCost[q] - before
            + (q != home ? problem.migrationCost[i] : 0) - (p != home ? problem.migrationCost[i] : 0)
    }

    /// Runs greedy then exchange until no move improves or `shouldStop` says so.
    /// `from` limits the first greedy pass to those instances (after a kick: the ones whose
    /// nodes it changed); nil weighs every movable instance.
    /// `exchange: false` stops after the greedy passes (a kick's repair, which must stay cheap).
    mutating func run(from seeds: [Int]? = nil, exchange exchanging: Bool = true, shouldStop: () -> Bool) {
        greedy(from: seeds, shouldStop: shouldStop)
        if !isFeasible, repair(shouldStop: shouldStop) { greedy(shouldStop: shouldStop) }
        guard exchanging else { return }
        // Each exchange lowers the objective; the cap guards against rounding noise on overloaded starts.
        var rounds = 0
        while rounds < 1_000, !stopping(shouldStop), exchange(shouldStop: shouldStop) {
            greedy(shouldStop: shouldStop)
            rounds += 1
        }
    }

    /// Total amount by which nodes' lowest allocations exceed their capacity.
    var excess: Double { (0..<problem.nodeCount).reduce(0) { $0 + book.excess($1) } }

    /// For a start that is over capacity where no single move helps: tries
    /// pairs (i leaves an overloaded node for q, and j leaves q for r) and
    /// keeps every pair that lowers the total excess. True when feasible after.
    mutating func repair(shouldStop: () -> Bool) -> Bool {
        var improved = true
        while improved, !isFeasible, !stopping(shouldStop) {
            improved = false
            for p in 0..<problem.nodeCount where book.isOverloaded(p) {
                for i in book.members[p].map(Int.init) where !problem.locked[i] {
                    for q in targets(of: i) where q != p {
                        for j in book.members[q].map(Int.init) where j != i && !problem.locked[j] {
                            for r in targets(of: j) where r != q {
                                let added = (node[i] == problem.node[i] ? 1 : 0) + (node[j] == problem.node[j] ? 1 : 0)
                                    - (q == problem.node[i] ? 1 : 0) - (r == problem.node[j] ? 1 : 0)
                                guard migrations + added <= problem.maxMigrations else { continue }
                                work += 1
                                if work & 255 == 0, stopping(shouldStop) { return isFeasible }
                                let before = excess, (fromI, fromJ) = (node[i], node[j])
                                apply(Move(instance: i, target: q, delta: 0, budgetChange: 0))
                                apply(Move(instance: j, target: r, delta: 0, budgetChange: 0))
                                if excess < before - 1e-9 { improved = true; break }
                                apply(Move(instance: j, target: fromJ, delta: 0, budgetChange: 0))
                                apply(Move(instance: i, target: fromI, delta: 0, budgetChange: 0))
                            }
                            if improved { break }
                        }
                        if improved { break }
                    }
                    if improved { break }
                }
                if improved { break }
            }
        }
        return isFeasible
    }

    private func targets(of i: Int) -> [Int] { [problem.node[i]] + problem.alternatives[i] }

    private struct Queued {
        var move: Move
        var stamp: Int
    }

    private mutating func greedy(from seeds: [Int]? = nil, shouldStop: () -> Bool) {
        let budget = problem.maxMigrations
        var queue = BinaryHeap<Queued>()
        func push(_ i: Int, into queue: inout BinaryHeap<Queued>) {
            stamp[i] += 1
            work += 1
            if let move = bestMove(i, budgetLeft: migrations < budget), move.delta < -Self.epsilon {
                queue.insert(Queued(move: move, stamp: stamp[i]), key: move.delta)
            }
        }
        for i in seeds ?? movable { push(i, into: &queue) }
        var pops = 0
        while let (_, entry) = queue.popMinimum() {
            pops += 1
            if pops & 255 == 0, stopping(shouldStop) { return }
            let i = entry.move.instance
            guard entry.stamp == stamp[i] else { continue }
            if entry.move.budgetChange > 0 && migrations >= budget { continue }
            let p = node[i], q = entry.move.target
            apply(entry.move)
            var seen = Set<Int32>()
            for n in [p, q] {
                for j in dependents[n] where seen.insert(j).inserted { push(Int(j), into: &queue) }
            }
        }
    }

    /// Replaces the migration that gains least by a better one; true when
    /// the objective went down.
    private mutating func exchange(shouldStop: () -> Bool) -> Bool {
        guard migrations >= problem.maxMigrations, problem.maxMigrations > 0 else { return false }
        var incoming: [Move] = []
        var outgoing: [Move] = []
        work += movable.count
        for i in movable {
            if node[i] == problem.node[i] {
                if let move = bestMove(i, budgetLeft: true), move.delta < -Self.epsilon { incoming.append(move) }
            } else if let back = undo(i) {
                outgoing.append(back)
            }
        }
        incoming.sort { $0.delta < $1.delta }
        outgoing.sort { $0.delta < $1.delta }
        var improved = false
        var used = Set<Int>()
        for move in incoming {
            if stopping(shouldStop) { break }
            for back in outgoing where !used.contains(back.instance) {
                guard move.delta + back.delta < -Self.epsilon else { break }
                work += 1
                let before = objective
                let from = node[back.instance]
                guard let fresh = undo(back.instance) else { continue }
                apply(fresh)
                if let replacement = bestMove(move.instance, budgetLeft: true),
                   replacement.budgetChange <= 0 || migrations < problem.maxMigrations {
                    apply(replacement)
                    if objective < before - Self.epsilon {
                        used.insert(back.instance)
                        used.insert(move.instance)
                        improved = true
                        break
                    }
                    apply(Move(instance: move.instance, target: problem.node[move.instance], delta: 0, budgetChange: -1))
                }
                apply(Move(instance: back.instance, target: from, delta: 0, budgetChange: 1))
            }
        }
        return improved
    }

    /// Moving a migrated instance back to its home node.
    private func undo(_ i: Int) -> Move? {
        let p = node[i], home = problem.node[i]
        guard p != home else { return nil }
        let delta = book.cost(p, excluding: i) - nodeCost[p]
            + book.cost(home, including: i) - nodeCost[home] - problem.migrationCost[i]
        return Move(instance: i, target: home, delta: delta, budgetChange: -1)
    }
}
