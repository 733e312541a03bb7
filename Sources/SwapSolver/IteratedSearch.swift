import PoolCore

/// Spends the time left after the local search on escaping its local optimum: each round
/// kicks the best assignment (the migrations into or out of one node are sent home and may not
/// come back this round), searches again from there, lifts the ban and searches once more, and
/// keeps the result only when it is better. Kicked nodes are drawn from a seeded generator, so
/// a work limit gives the same result on any machine.
struct IteratedSearch {
    /// One point of the incumbent's trajectory.
    struct Improvement: Sendable, Equatable {
        var work: Int
        var objective: Double
    }

    var seed: UInt64 = 1
    /// Rounds without improvement after which the search ends (it has tried every kick it
    /// is likely to draw).
    var patience = 1_000

    /// Runs until `search.workLimit`, `shouldStop` or `patience`.
    func run(_ search: inout MigrationSearch, shouldStop: () -> Bool, improved: (Improvement) -> Void) {
        let problem = search.problem
        guard problem.maxMigrations > 0, !search.movable.isEmpty, search.isFeasible else { return }
        var random = SplitMix64(seed: seed)
        var idle = 0
        // Where each instance moved this round was when the round began (`round` stamps it).
        var before = [Int](repeating: 0, count: problem.instanceCount)
        var stamp = [Int](repeating: 0, count: problem.instanceCount)
        var round = 0
        var migrated: [Int] = []
        while idle < patience, search.work < search.workLimit, !shouldStop() {
            idle += 1
            round += 1
            let best = search.objective
            // In index order, as `movable` is: the draws below depend on it.
            migrated.removeAll(keepingCapacity: true)
            for i in search.migrated { migrated.append(Int(i)) }
            migrated.sort()
            search.log = []
            var ban: Set<Int> = []
            var changed: Set<Int> = []
            func sendHome(_ i: Int) {
                ban.insert(i * problem.nodeCount + search.node[i])
                changed.insert(search.node[i])
                changed.insert(problem.node[i])
                search.apply(.init(instance: i, target: problem.node[i], delta: 0, budgetChange: -1))
            }
            if !migrated.isEmpty, random.next() % 4 != 0 {
                // Every migration into or out of one node goes home.
                let i = migrated[Int(random.next() % UInt64(migrated.count))]
                let pivot = random.next() % 2 == 0 ? search.node[i] : problem.node[i]
                for j in migrated where search.node[j] == pivot || problem.node[j] == pivot { sendHome(j) }
            } else {
                // An instance at home moves to one of its candidates and may not return at once.
                let i = search.movable[Int(random.next() % UInt64(search.movable.count))]
                guard search.node[i] == problem.node[i] else { search.log = nil; continue }
                if search.migrations >= problem.maxMigrations, !migrated.isEmpty {
                    sendHome(migrated[Int(random.next() % UInt64(migrated.count))])
                }
                let targets = problem.alternatives[i]
                let q = targets[Int(random.next() % UInt64(targets.count))]
                ban.insert(i * problem.nodeCount + problem.node[i])
                changed.insert(q)
                changed.insert(problem.node[i])
                search.apply(.init(instance: i, target: q, delta: 0, budgetChange: 1))
            }
            search.forbidden = ban
            search.run(from: dependents(of: changed, in: search), exchange: false, shouldStop: shouldStop)
            search.forbidden = []
            search.run(from: dependents(of: Set(search.log!.map { search.node[Int($0.instance)] }).union(changed), in: search),
                       exchange: false, shouldStop: shouldStop)
            let moved = search.log!
            search.log = nil
            if search.isFeasible, search.objective < best - MigrationSearch.epsilon * max(1, abs(best)) {
                idle = 0
                improved(Improvement(work: search.work, objective: search.objective))
            } else {
                for (instance, from) in moved where stamp[Int(instance)] != round {
                    stamp[Int(instance)] = round
                    before[Int(instance)] = Int(from)
                }
                for (instance, _) in moved.reversed() where search.node[Int(instance)] != before[Int(instance)] {
                    search.apply(.init(instance: Int(instance), target: before[Int(instance)], delta: 0, budgetChange: 0))
                }
                assert(moved.allSatisfy { search.node[Int($0.instance)] == before[Int($0.instance)] }, "a failed kick is undone")
                search.restore(objective: best)
            }
        }
    }

    private func dependents(of nodes: Set<Int>, in search: MigrationSearch) -> [Int] {
        var seen = Set<Int32>()
        var list: [Int] = []
        for n in nodes.sorted() {
            for j in search.dependents[n] where seen.insert(j).inserted { list.append(Int(j)) }
        }
        return list
    }
}
