import Drivers
import Execution
import Forecasting
import PoolCore
import Storage
import SwapSolver

/// Formulate and solve: the swap problem of a request over the pool as it is now, solved, and
/// the answer's swaps with their explanations. Nothing changes here; the risk assessment and
/// execution come after.
struct PlanFormulation {
    let configuration: ServiceConfiguration
    let registry: PoolRegistry
    /// Why each instance that may not change now may not (cooling down, never observed, gone
    /// from the driver, being verified).
    let locked: [String: String]
    /// Why each instance that may grow but not shrink or move now may not (cooling down after a
    /// swap): its minimum is raised to what it holds, and it has no other node.
    var noShrink: [String: String] = [:]
    /// Whether the driver moves instances between nodes.
    let migrates: Bool
    /// Per instance, the memory the risk gate will not shrink below (working set plus margin):
    /// the problem's memory minimum is raised to it (never above the allocation now), so that
    /// the solver does not plan shrinks the gate refuses.
    var memoryFloor: [String: Double] = [:]
    /// Per node, capacity held back for the swaps being verified there: what a shrink gave up,
    /// and the place a migrated instance left, stay free until the swap commits, so that its
    /// rollback always has room.
    var heldBack: [String: [Double]] = [:]
    /// Per instance, the nodes it may move to (indices into the registry's nodes) and the
    /// dearest of the driver's estimates for them, which prices a move (`MigrationPricing`). An
    /// instance without options does not move.
    var migrationOptions: [String: MigrationOptions] = [:]
    /// The last loop plan's solve: where this one's search and bound start.
    var warmStart: SwapWarmStart?

    struct MigrationOptions: Sendable {
        var targets: [Int]
        /// The longest duration, downtime and transfer among the targets' estimates.
        var dearest: MigrationEstimate
    }

    struct Result {
        var problem: SwapProblem
        var solution: SwapSolution
        var swaps: [SwapView]
        var objectiveBefore: Double
    }

    private static let horizonMinutes = ["5m": 5, "15m": 15, "30m": 30]

    static func horizonSlots(_ text: String?, default slots: Int, interval: Int) throws -> Int {
        guard let text else { return slots }
        guard let m = Self.horizonMinutes[text] else { throw APIFailure.badRequest("horizon: expected 5m, 15m or 30m, not \"\(text)\"") }
        return Cadence(interval: interval).slots(m * 60)
    }

    func formulate(_ request: SwapRequestBody, tenantScope: String?, horizon: Int, forecaster: inout PoolForecaster,
                   shouldStop: @escaping @Sendable () -> Bool) throws -> Result {
        let ids = forecaster.order.filter { registry.records[$0] != nil }
        let requested = request.allocations ?? [:], requestedNodes = request.nodes ?? [:]
        var scopeIDs = request.instances.map(Set.init)
        if !requested.isEmpty || !requestedNodes.isEmpty { scopeIDs = (scopeIDs ?? []).union(requested.keys).union(requestedNodes.keys) }
        if let scope = scopeIDs, let unknown = scope.sorted().first(where: {
            registry.records[$0] == nil || (tenantScope != nil && registry.records[$0]?.tenant != tenantScope)
        }) {
            throw APIFailure.notFound("instance \(unknown) not found")
        }
        let tenant = tenantScope ?? request.tenant
        var waste = configuration.wasteCost, shortfall = configuration.shortfallCost
        switch request.target ?? .both {
        case .costReduction: waste = waste.map { $0 * 2 }
        case .performance: shortfall = shortfall.map { $0 * 2 }
        case .both: break
        }
        let nodes = registry.nodes
        let nodeIndex = Dictionary(uniqueKeysWithValues: nodes.enumerated().map { ($1.id, $0) })
        var allocation: [Double] = [], demand: [Double] = [], minimum: [Double] = [], maximum: [Double] = []
        var node: [Int] = [], weight: [Double] = [], locked: [Bool] = [], cost: [Double] = [], alternatives: [[Int]] = []
        for id in ids {
            let record = registry.records[id]!
            allocation += record.allocation
            let need = forecaster.demand(record, horizon: horizon)
            demand += (0..<3).map { need[$0] + configuration.headroom[$0] }
            var floor = record.minimum
            if let memory = memoryFloor[id] { floor[1] = max(floor[1], min(record.allocation[1], memory)) }
            if noShrink[id] != nil { for r in 0..<3 { floor[r] = max(floor[r], min(record.allocation[r], record.maximum[r])) } }
            minimum += floor
            maximum += record.maximum
            node.append(nodeIndex[record.node] ?? 0)
            weight.append(record.weight)
            let inScope = (scopeIDs?.contains(id) ?? true) && (tenant == nil || record.tenant == tenant)
            locked.append(!inScope || self.locked[id] != nil)
            let options = migrationOptions[id]
            cost.append(migrationPrice(record, demand: need, waste: waste, shortfall: shortfall))
            alternatives.append(migrates && noShrink[id] == nil ? options?.targets ?? [] : [])
        }
        let problem = SwapProblem(
            resources: ["cpu", "memory", "gpu"], integral: [false, false, true],
            waste: waste, shortfall: shortfall, change: configuration.changeCost,
            maxChange: configuration.maxChange, maxMigrations: migrates ? request.maxMigrations ?? configuration.maxMigrations : 0,
            nodeIDs: nodes.map(\.id), capacity: nodes.flatMap(\.capacity),
            reserve: nodes.flatMap { node in
                let allocated = (try? registry.ledger.allocated(on: NodeID(node.id))).map(values) ?? [0, 0, 0]
                return (0..<3).map { r in
                    // Never more than the node has free now: what is allocated stays allocatable.
                    min(node.reserve[r] + (heldBack[node.id]?[r] ?? 0), max(node.reserve[r], node.capacity[r] - allocated[r]))
                }
            },
            instanceIDs: ids, node: node, allocation: allocation, demand: demand, minimum: minimum, maximum: maximum,
            weight: weight, locked: locked, migrationCost: cost, alternatives: alternatives)
        let before = SolutionChecker.check(problem, node: problem.node, allocation: problem.allocation).objective
        var solution: SwapSolution
        if requested.isEmpty && requestedNodes.isEmpty {
            var solver = SwapSolver()
            // A plan, not a proof: the branch and bound rarely changes the plan, and a round
            // would wait for it.
            solver.proofEffort = 0
            solver.decompositionIterations = 0
            solution = solver.solve(problem, warmStart: warmStart, shouldStop: shouldStop)
            if solution.status == .infeasible {
                // Keep everything as it is; the answer says why nothing moves.
                solution = SwapSolution(status: .feasible, objective: before, lowerBound: -.infinity,
                                        node: problem.node, allocation: problem.allocation, reason: solution.reason)
            }
        } else {
            solution = try requestedSolution(problem, requested, nodes: requestedNodes)
        }
        var swaps = swapViews(problem, solution, horizon: horizon, requested: Set(requested.keys).union(requestedNodes.keys),
                              forecaster: &forecaster)
        if let limit = request.maxChanges, swaps.count > limit {
            let kept = FittingSubset.select(swaps.map(Self.change), benefit: swaps.map(\.benefit), in: registry.ledger, limit: max(0, limit))
            swaps = kept.map { swaps[$0] }
        }
        return Result(problem: problem, solution: solution, swaps: swaps, objectiveBefore: before)
    }

    /// The price of moving `record`'s instance at its dearest estimate, at the plan's costs;
    /// `migrationFixedCost` when it has none (an operator's move to a node not offered).
    func migrationPrice(_ record: InstanceRecord, demand: [Double], waste: [Double], shortfall: [Double]) -> Double {
        guard let dearest = migrationOptions[record.id]?.dearest else { return configuration.migrationFixedCost }
        return MigrationPricing.cost(dearest, allocation: vector(record.allocation), demand: vector(demand), weight: record.weight,
                                     waste: waste, shortfall: shortfall, fixed: configuration.migrationFixedCost,
                                     slotSeconds: Double(configuration.interval))
    }

    /// The options of a move from `estimates` (aligned with the registry's nodes): the nodes
    /// estimated within the risk policy's downtime and duration limits (all estimated ones when
    /// `force`), and the dearest figures among them; nil when there is none.
    static func migrationOptions(_ estimates: [MigrationEstimate?], risk: RiskPolicy, force: Bool = false) -> MigrationOptions? {
        var targets: [Int] = []
        var dearest = MigrationEstimate(seconds: 0, downtimeMilliseconds: 0, transferred: 0)
        for (k, estimate) in estimates.enumerated() {
            guard let estimate, force || (estimate.downtimeMilliseconds <= risk.maxDowntimeMilliseconds && estimate.seconds <= risk.maxMigrationSeconds) else { continue }
            targets.append(k)
            dearest.seconds = max(dearest.seconds, estimate.seconds)
            dearest.downtimeMilliseconds = max(dearest.downtimeMilliseconds, estimate.downtimeMilliseconds)
            dearest.transferred = max(dearest.transferred, estimate.transferred)
        }
        return targets.isEmpty ? nil : MigrationOptions(targets: targets, dearest: dearest)
    }

    /// The allocations and nodes an operator asked for, as a solution, checked against the SLA
    /// bounds and node capacity. A move needs a driver that migrates and an instance not
    /// cooling down.
    private func requestedSolution(_ problem: SwapProblem, _ requested: [String: Amounts], nodes: [String: String]) throws -> SwapSolution {
        var allocation = problem.allocation, node = problem.node
        var relaxed = problem
        for (id, target) in nodes.sorted(by: { $0.key < $1.key }) {
            guard let i = problem.instanceIDs.firstIndex(of: id) else { throw APIFailure.notFound("instance \(id) not found") }
            guard let k = problem.nodeIDs.firstIndex(of: target) else { throw APIFailure.unprocessable("nodes.\(id): no node \(target)") }
            guard k != node[i] else { continue }
            guard migrates else { throw APIFailure.unprocessable("nodes.\(id): the driver does not move instances between nodes") }
            if let why = locked[id] { throw APIFailure.conflict("instance \(id) cannot change now: \(why)") }
            if let why = noShrink[id] { throw APIFailure.conflict("instance \(id) cannot move now: \(why)") }
            node[i] = k
            relaxed.alternatives[i] = [k]
        }
        for (id, amounts) in requested {
            guard let i = problem.instanceIDs.firstIndex(of: id), let record = registry.records[id] else {
                throw APIFailure.notFound("instance \(id) not found")
            }
            if let why = locked[id] { throw APIFailure.conflict("instance \(id) cannot change now: \(why)") }
            if let why = noShrink[id], zip(amounts.values, record.allocation).contains(where: { $0 < $1 }) {
                throw APIFailure.conflict("instance \(id) cannot shrink now: \(why)")
            }
            for (r, value) in amounts.values.enumerated() {
                guard value >= record.minimum[r], value <= record.maximum[r] else {
                    throw APIFailure.unprocessable("allocations.\(id).\(["cpu", "memory", "gpu"][r]): \(formatAmount(value)) is outside the SLA bounds \(formatAmount(record.minimum[r]))...\(formatAmount(record.maximum[r]))")
                }
                allocation[i * 3 + r] = value
            }
        }
        relaxed.maxChange = relaxed.maxChange.map { _ in .infinity }   // an operator's amounts need not step
        let moves = zip(node, problem.node).filter { $0 != $1 }.count
        guard moves <= problem.maxMigrations else {
            throw APIFailure.unprocessable("nodes: \(moves) moves asked for, at most \(problem.maxMigrations) a plan (maxMigrations)")
        }
        let check = SolutionChecker.check(relaxed, node: node, allocation: allocation)
        guard check.isFeasible else { throw APIFailure.unprocessable("the allocations asked for do not fit: \(check.violations.prefix(3).joined(separator: "; "))") }
        return SwapSolution(status: .feasible, objective: check.objective, lowerBound: -.infinity, node: node, allocation: allocation,
                            reason: "allocations set by the request")
    }

    static func change(_ swap: SwapView) -> SwapChange {
        SwapChange(instance: InstanceID(swap.instance), tenant: swap.tenant, fromNode: NodeID(swap.fromNode), toNode: NodeID(swap.toNode),
                   before: vector(swap.before.values), after: vector(swap.after.values))
    }

    private func swapViews(_ problem: SwapProblem, _ solution: SwapSolution, horizon: Int, requested: Set<String>,
                           forecaster: inout PoolForecaster) -> [SwapView] {
        let explanations = requested.isEmpty ? SwapExplanation.explain(problem, solution) : []
        var byInstance: [String: [SwapExplanation]] = [:]
        for e in explanations { byInstance[e.instance, default: []].append(e) }
        var views: [SwapView] = []
        for (i, id) in problem.instanceIDs.enumerated() {
            guard let record = registry.records[id] else { continue }
            // A change within the solver's rounding, or below the smallest worth making, is none
            // (an operator's amounts are taken as asked).
            let smallest = requested.contains(id) ? [0.0, 0, 0] : configuration.minimumChange
            let after = (0..<3).map { r -> Double in
                let a = solution.allocation[i * 3 + r], a0 = record.allocation[r]
                return abs(a - a0) <= 1e-9 * max(1, abs(a0)) || abs(a - a0) < smallest[r] ? a0 : a
            }
            let moved = solution.node[i] != problem.node[i]
            var changes: [ResourceChange]
            if requested.contains(id) {
                changes = (0..<3).compactMap { r in
                    let k = i * 3 + r
                    guard after[r] != record.allocation[r] else { return nil }
                    return ResourceChange(resource: problem.resources[r], demand: problem.demand[k], old: record.allocation[r], new: after[r],
                                          saved: problem.cost(instance: i, r, amount: record.allocation[r]) - problem.cost(instance: i, r, amount: after[r]),
                                          limit: "requested")
                }
            } else {
                changes = (byInstance[id] ?? []).map {
                    ResourceChange(resource: $0.resource, demand: $0.demand, old: $0.old, new: $0.new, saved: $0.saved, limit: $0.limit.rawValue)
                }
            }
            changes.removeAll { change in
                guard let r = problem.resources.firstIndex(of: change.resource) else { return false }
                return after[r] == record.allocation[r]
            }
            guard !changes.isEmpty || moved else { continue }
            let upper95 = forecaster.upper(record, horizon: horizon, level: 2)
            var covered = 0.0
            for level in (0..<3).reversed() {
                let upper = forecaster.upper(record, horizon: horizon, level: level)
                if zip(after.prefix(2), upper.prefix(2)).allSatisfy({ $0 >= $1 - 1e-9 }) { covered = IntervalForecast.levels[level]; break }
            }
            views.append(SwapView(
                instance: id, tenant: record.tenant, fromNode: record.node, toNode: problem.nodeIDs[solution.node[i]],
                before: Amounts(record.allocation), after: Amounts(after), changes: changes,
                benefit: changes.reduce(0) { $0 + $1.saved } - (moved ? problem.migrationCost[i] : 0),
                risk: RiskView(headroom95: Amounts(zip(after, upper95).map { $0 - $1 }), coveredLevel: covered, migrates: moved)))
        }
        return views
    }
}
