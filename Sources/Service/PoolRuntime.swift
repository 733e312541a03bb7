import Forecasting
import Foundation
import PoolCore
import Storage
import SwapSolver

/// The pool as the service holds it: nodes and instances, the online
/// forecaster fed every slot, and the steps of the control loop. State lives
/// here and in the store; the HTTP layer and the loop only call in.
public actor PoolRuntime {
    public let configuration: ServiceConfiguration
    let store: any PoolStore
    private(set) var nodes: [NodeRecord] = []
    private(set) var instances: [String: InstanceRecord] = [:]
    /// Instance ids in the order their series were added to the forecaster.
    var order: [String] = []
    var seriesOf: [String: (cpu: Int, memory: Int)] = [:]
    /// The online forecaster: two series per instance (cpu, memory), paired; made anew at
    /// `restore`, its slot 0 aligned with pool time.
    var engine = ForecastEngine(seriesCount: 0)
    /// The installed networks per resource and what is known of them.
    var networks: [Resource: (network: RecurrentNetwork, status: NetworkStatus)] = [:]
    /// Whether a training runs now, and what went wrong with the last restore or training.
    var training = false
    var networkProblems: [String] = []
    /// Pool time of the oldest sample the forecaster was fed, and of the samples the last
    /// training read up to (or the saved networks were trained on): the training schedule.
    var historySince: Int64?
    var lastTraining: Int64?
    private var coverage: [String: CoverageTracker] = [:]
    /// The newest sample of each instance in the slot being filled.
    private var pending: [String: UsageSample] = [:]
    private var lastSampleTime: [String: Int64] = [:]
    var lastUsed: [String: [Double]] = [:]
    var lastObservedSlot: [String: Int64] = [:]
    private var cooldownUntil: [String: Int64] = [:]
    /// Start of the next slot the loop will take; nil before the first round.
    public private(set) var slot: Int64?
    public private(set) var round = 0
    public private(set) var startedAt: Int64 = 0
    /// Pool time now: the start of the next slot, or the start time before the first round.
    public var poolTime: Int64 { slot ?? startedAt }
    private var planSerial = 0
    /// Executed swaps waiting for the instance's next sample, to measure what they gave.
    private var unsettled: [SwapRecord] = []
    private var settlements: [(id: Int64, realised: Double, utilisation: Double)] = []

    /// Encoded `GET /prediction` answers of this round; forecasts change only when a slot is observed.
    public nonisolated let predictionCache = PredictionCache()

    public init(configuration: ServiceConfiguration, store: any PoolStore) {
        self.configuration = configuration
        self.store = store
    }

    /// Loads nodes and instances from the store (after a restart), replays the last
    /// `warmStartSlots` of stored samples into the forecaster and installs the networks saved
    /// in the store.
    public func restore(startingAt time: Int64) async throws {
        nodes = try await store.nodes()
        startedAt = time
        let interval = Int64(configuration.interval)
        slot = (time / interval) * interval
        let records = try await store.instances(tenant: nil)
        let warm = warmStartSlots(instances: records.count)
        resetForecaster(firstSlot: time / interval - Int64(warm))
        for instance in records { admit(instance) }
        try await warmStart(slots: warm, before: slot!)
        await loadNetworks()
        for plan in try await store.plans(status: .executing) {
            var failed = plan
            failed.status = .failed
            try await store.save(plan: failed)
            try await store.append(journal: JournalEntry(plan: plan.id, step: -1, phase: "recovered",
                                                         detail: "the service stopped while this plan was executing; its completed steps are recorded, the rest was not applied", time: time))
        }
    }

    func admit(_ instance: InstanceRecord) {
        if seriesOf[instance.id] == nil {
            let cpu = engine.addSeries(), memory = engine.addSeries()
            engine.pair(cpu, memory)
            seriesOf[instance.id] = (cpu, memory)
            order.append(instance.id)
            coverage[instance.id] = CoverageTracker()
            for (resource, index) in [(Resource.cpu, cpu), (.memory, memory)] where networks[resource] != nil {
                engine.serve(index, byNetwork: resource.rawValue)
            }
        }
        instances[instance.id] = instance
    }

    // MARK: Registration

    /// Registers or updates a node; refused if its instances would no longer fit.
    public func register(node: NodeRecord) async throws {
        _ = try ledger(nodes: [node], instances: instances.values.filter { $0.node == node.id })
        try await store.upsert(node: node)
        nodes.removeAll { $0.id == node.id }
        nodes.append(node)
        nodes.sort { $0.id < $1.id }
    }

    /// Registers or updates an instance; the pool's invariants are checked first.
    public func register(instance: InstanceRecord) async throws {
        // Only the instance's node can break: check it with its other instances.
        guard let node = nodes.first(where: { $0.id == instance.node }) else {
            throw APIFailure.unprocessable("instance \(instance.id) refers to unknown node \(instance.node)")
        }
        let others = instances.values.filter { $0.node == instance.node && $0.id != instance.id }
        _ = try ledger(nodes: [node], instances: others + [instance])
        try await store.upsert(instance: instance)
        admit(instance)
        predictionCache.clear()
    }

    private func ledger(nodes: [NodeRecord], instances: [InstanceRecord]) throws -> AllocationLedger {
        let poolNodes = nodes.map { Node(id: NodeID($0.id), capacity: vector($0.capacity), reserve: vector($0.reserve)) }
        let poolInstances = instances.sorted { $0.id < $1.id }.map(Self.poolInstance)
        do { return try AllocationLedger(nodes: poolNodes, instances: poolInstances) }
        catch { throw APIFailure.unprocessable("\(error)") }
    }

    static func poolInstance(_ record: InstanceRecord) -> Instance {
        Instance(id: InstanceID(record.id), node: NodeID(record.node), allocation: vector(record.allocation),
                 sla: SLA(minimum: vector(record.minimum), maximum: vector(record.maximum), weight: record.weight))
    }

    public func instance(_ id: String) -> InstanceRecord? { instances[id] }
    public func allInstances() -> [InstanceRecord] { order.compactMap { instances[$0] } }
    public func allNodes() -> [NodeRecord] { nodes }
    public func used(_ id: String) -> [Double]? { lastUsed[id] }

    // MARK: Ingest

    /// Validates and stores a batch of samples. Bad samples are counted by
    /// reason and skipped; the rest are stored before this returns.
    public func accept(_ batch: [UsageSampleBody], allowed: (String) -> Bool) async throws -> UsageReceipt {
        let interval = Int64(configuration.interval)
        let now = (slot ?? batch.map(\.time).max() ?? 0) + interval
        var good: [UsageSample] = []
        var reasons: [String: Int] = [:]
        var examples: [String] = []
        var newest: [String: Int64] = [:]
        for (k, sample) in batch.enumerated() {
            let values = [sample.cpu, sample.memory, sample.gpu ?? 0]
            let reason: String?
            if instances.index(forKey: sample.instance) == nil || !allowed(sample.instance) { reason = "unknown instance" }
            else if values.contains(where: \.isNaN) { reason = "NaN" }
            else if values.contains(where: { !$0.isFinite }) { reason = "not finite" }
            else if values.contains(where: { $0 < 0 }) { reason = "negative" }
            else if let last = newest[sample.instance] ?? lastSampleTime[sample.instance], sample.time <= last { reason = "out of order" }
            else if sample.time > now + interval { reason = "far future" }
            else { reason = nil }
            if let reason {
                reasons[reason, default: 0] += 1
                if examples.count < 10 { examples.append("samples[\(k)] (\(sample.instance) at \(sample.time)): \(reason)") }
                continue
            }
            newest[sample.instance] = sample.time
            good.append(UsageSample(instance: sample.instance, time: sample.time, used: values))
        }
        _ = try await store.append(samples: good)
        for sample in good {
            lastSampleTime[sample.instance] = max(lastSampleTime[sample.instance] ?? .min, sample.time)
            pending[sample.instance] = sample
        }
        return UsageReceipt(accepted: good.count, rejected: batch.count - good.count, reasons: reasons, examples: examples)
    }

    /// Feeds the forecaster the slot starting at `time`: each instance's newest
    /// sample in it, or a gap.
    func observeSlot(_ time: Int64) {
        let interval = Int64(configuration.interval)
        guard alignForecaster(to: time / interval) else { return }
        var values = [Double](repeating: .nan, count: engine.series.count)
        var allocations = values
        for id in order {
            guard let series = seriesOf[id], let record = instances[id] else { continue }
            if let sample = pending[id], sample.time >= time, sample.time < time + interval {
                values[series.cpu] = sample.used[0]
                values[series.memory] = sample.used[1]
                lastUsed[id] = sample.used
                lastObservedSlot[id] = time
                historySince = historySince ?? time
                settle(id, used: sample.used)
            }
            allocations[series.cpu] = record.allocation[0]
            allocations[series.memory] = record.allocation[1]
        }
        engine.observe(values, allocations: allocations)
        for id in order {
            guard let series = seriesOf[id] else { continue }
            let value = [values[series.cpu], values[series.memory]]
            coverage[id]?.observe(resource: 0, slot: time, value: value[0])
            coverage[id]?.observe(resource: 1, slot: time, value: value[1])
            for (h, horizon) in CoverageTracker.horizons.enumerated() {
                let target = time + Int64(horizon) * interval
                for (r, index) in [series.cpu, series.memory].enumerated() {
                    let f = engine.forecast(series: index, horizon: horizon)
                    coverage[id]?.expect(resource: r, horizon: h, target: target, lower: f.lower, upper: f.upper)
                }
            }
        }
        pending = pending.filter { $0.value.time >= time + interval }
        slot = time + interval
        predictionCache.clear()
    }

    /// Measures the swaps of `id` against the usage that came after them: the
    /// model's waste and shortfall cost at that usage with the old allocation minus
    /// with the new one, less the change and migration cost.
    private func settle(_ id: String, used: [Double]) {
        guard unsettled.contains(where: { $0.instance == id }), let record = instances[id] else { return }
        func cost(_ a: [Double]) -> Double {
            (0..<2).reduce(0) { $0 + configuration.wasteCost[$1] * max(0, a[$1] - used[$1])
                + record.weight * configuration.shortfallCost[$1] * max(0, used[$1] - a[$1]) }
        }
        for swap in unsettled where swap.instance == id {
            guard let swapID = swap.id else { continue }
            let change = (0..<3).reduce(0) { $0 + configuration.changeCost[$1] * abs(swap.after[$1] - swap.before[$1]) }
            let moved = swap.fromNode != swap.toNode ? 0.5 + swap.before[1] / 16 : 0
            let shares = (0..<2).map { swap.after[$0] > 0 ? used[$0] / swap.after[$0] : 0 }
            settlements.append((swapID, cost(swap.before) - cost(swap.after) - change - moved, (shares[0] + shares[1]) / 2))
        }
        unsettled.removeAll { $0.instance == id }
    }

    /// Measured outcomes of earlier swaps, for the store.
    func takeSettlements() -> [(id: Int64, realised: Double, utilisation: Double)] {
        defer { settlements.removeAll() }
        return settlements
    }

    // MARK: Forecasts

    public func prediction(_ id: String, horizons: [Int]) -> PredictionView? {
        guard let series = seriesOf[id] else { return nil }
        let interval = Int64(configuration.interval)
        let base = poolTime
        let predictions = horizons.map { horizon -> HorizonPrediction in
            let h = CoverageTracker.horizons.firstIndex(of: horizon) ?? 0
            func view(_ index: Int, _ resource: Int) -> ResourcePrediction {
                let f = engine.forecast(series: index, horizon: horizon)
                let (shares, scored) = coverage[id]?.coverage(resource: resource, horizon: h) ?? ([.nan, .nan, .nan], 0)
                var measured: [String: Double] = [:]
                for (level, share) in zip(["80", "90", "95"], shares) where !share.isNaN { measured[level] = share }
                return ResourcePrediction(
                    point: f.point,
                    intervals: IntervalForecast.levels.indices.map { IntervalView(level: IntervalForecast.levels[$0], lower: f.lower[$0], upper: f.upper[$0]) },
                    model: f.model, coverage: measured, scored: scored)
            }
            return HorizonPrediction(horizon: "\(horizon * configuration.interval / 60)m", minutes: horizon * configuration.interval / 60,
                                     target: base + Int64(horizon - 1) * interval,
                                     cpu: view(series.cpu, 0), memory: view(series.memory, 1))
        }
        return PredictionView(instance: id, trainedSince: startedAt, lastObserved: lastObservedSlot[id], predictions: predictions)
    }

    /// The demand the plan should meet for one instance: the forecast's upper
    /// bound at the level its SLA tier asks for (80/90/95% for weight below 3,
    /// below 10, and 10 or more); the allocation itself before any sample.
    func demand(_ id: String, horizon: Int) -> [Double] {
        guard let record = instances[id], let series = seriesOf[id], lastObservedSlot[id] != nil else {
            return instances[id]?.allocation ?? [0, 0, 0]
        }
        let level = record.weight >= 10 ? 2 : record.weight >= 3 ? 1 : 0
        let cpu = engine.forecast(series: series.cpu, horizon: horizon).upper[level]
        let memory = engine.forecast(series: series.memory, horizon: horizon).upper[level]
        let gpu = max(lastUsed[id]?[2] ?? record.allocation[2], 0)
        return [cpu, memory, gpu.rounded(.up)]
    }

    func pointForecast(_ id: String, horizon: Int) -> [Double] {
        guard let series = seriesOf[id], lastObservedSlot[id] != nil else { return lastUsed[id] ?? [0, 0, 0] }
        return [engine.forecast(series: series.cpu, horizon: horizon).point,
                engine.forecast(series: series.memory, horizon: horizon).point, lastUsed[id]?[2] ?? 0]
    }

    public func poolView() -> PoolView {
        var nodeViews: [PoolView.NodeView] = []
        var total = [0.0, 0, 0], allocated = [0.0, 0, 0], used = [0.0, 0, 0], forecast = [0.0, 0, 0]
        for node in nodes {
            var a = [0.0, 0, 0], u = [0.0, 0, 0], count = 0
            for record in instances.values where record.node == node.id {
                count += 1
                for r in 0..<3 { a[r] += record.allocation[r]; u[r] += lastUsed[record.id]?[r] ?? 0 }
                let f = pointForecast(record.id, horizon: configuration.horizonSlots)
                for r in 0..<3 { forecast[r] += f[r] }
            }
            for r in 0..<3 { total[r] += node.capacity[r]; allocated[r] += a[r]; used[r] += u[r] }
            nodeViews.append(.init(id: node.id, capacity: Amounts(node.capacity), reserve: Amounts(node.reserve),
                                   allocated: Amounts(a), used: Amounts(u), instances: count))
        }
        return PoolView(time: slot, round: round, capacity: Amounts(total), allocated: Amounts(allocated),
                        used: Amounts(used), forecast: Amounts(forecast), nodes: nodeViews)
    }

    // MARK: Plans

    /// Formulates the swap problem for `request`, solves it and answers with
    /// every swap, its explanation and risk. Nothing changes here.
    public func plan(_ request: SwapRequestBody, tenantScope: String?, shouldStop: @escaping @Sendable () -> Bool) throws -> (PlanView, SwapProblem, SwapSolution) {
        let horizon = try Self.horizonSlots(request.horizon, default: configuration.horizonSlots, interval: configuration.interval)
        let ids = order.filter { instances[$0] != nil }
        let scope: Set<String>? = request.instances.map(Set.init)
        if let scope, let unknown = scope.first(where: { instances[$0] == nil || (tenantScope != nil && instances[$0]?.tenant != tenantScope) }) {
            throw APIFailure.notFound("instance \(unknown) not found")
        }
        let tenant = tenantScope ?? request.tenant
        var waste = configuration.wasteCost, shortfall = configuration.shortfallCost
        switch request.target ?? .both {
        case .costReduction: waste = waste.map { $0 * 2 }
        case .performance: shortfall = shortfall.map { $0 * 2 }
        case .both: break
        }
        let now = poolTime
        let nodeIndex = Dictionary(uniqueKeysWithValues: nodes.enumerated().map { ($1.id, $0) })
        var allocation: [Double] = [], demand: [Double] = [], minimum: [Double] = [], maximum: [Double] = []
        var node: [Int] = [], weight: [Double] = [], locked: [Bool] = [], cost: [Double] = [], alternatives: [[Int]] = []
        for id in ids {
            let record = instances[id]!
            allocation += record.allocation
            demand += self.demand(id, horizon: horizon)
            minimum += record.minimum
            maximum += record.maximum
            node.append(nodeIndex[record.node] ?? 0)
            weight.append(record.weight)
            let inScope = (scope?.contains(id) ?? true) && (tenant == nil || record.tenant == tenant)
            let coolingDown = (cooldownUntil[id] ?? .min) > now
            locked.append(!inScope || coolingDown || lastObservedSlot[id] == nil)
            cost.append(0.5 + record.allocation[1] / 16)
            alternatives.append(nodes.indices.filter { $0 != nodeIndex[record.node] })
        }
        let problem = SwapProblem(
            resources: ["cpu", "memory", "gpu"], integral: [false, false, true],
            waste: waste, shortfall: shortfall, change: configuration.changeCost,
            maxChange: configuration.maxChange, maxMigrations: request.maxMigrations ?? configuration.maxMigrations,
            nodeIDs: nodes.map(\.id), capacity: nodes.flatMap(\.capacity), reserve: nodes.flatMap(\.reserve),
            instanceIDs: ids, node: node, allocation: allocation, demand: demand, minimum: minimum, maximum: maximum,
            weight: weight, locked: locked, migrationCost: cost, alternatives: alternatives)
        var solution = SwapSolver().solve(problem, shouldStop: shouldStop)
        let before = SolutionChecker.check(problem, node: problem.node, allocation: problem.allocation).objective
        if solution.status == .infeasible {
            // Keep everything as it is; the answer says why nothing moves.
            solution = SwapSolution(status: .feasible, objective: before, lowerBound: -.infinity,
                                    node: problem.node, allocation: problem.allocation, reason: solution.reason)
        }
        var swaps = swapViews(problem, solution, horizon: horizon)
        if let limit = request.maxChanges, swaps.count > limit {
            swaps = Array(swaps.sorted { $0.benefit > $1.benefit }.prefix(max(0, limit)))
        }
        let after = before - swaps.reduce(0) { $0 + $1.benefit }
        planSerial += 1
        let id = "plan-\(now)-\(planSerial)"
        let view = PlanView(id: id, status: "dryRun", statusURL: "/swaps/\(id)", created: now,
                            solver: solution.status.rawValue + (solution.reason.map { " (\($0))" } ?? ""),
                            gap: solution.gap.isFinite ? solution.gap : nil,
                            objectiveBefore: before, objectiveAfter: after, swaps: swaps, journal: nil)
        return (view, problem, solution)
    }

    static func horizonSlots(_ text: String?, default slots: Int, interval: Int) throws -> Int {
        guard let text else { return slots }
        let minutes = ["5m": 5, "15m": 15, "30m": 30]
        guard let m = minutes[text] else { throw APIFailure.badRequest("horizon: expected 5m, 15m or 30m, not \"\(text)\"") }
        return max(1, min(6, m * 60 / interval))
    }

    private func swapViews(_ problem: SwapProblem, _ solution: SwapSolution, horizon: Int) -> [SwapView] {
        let explanations = SwapExplanation.explain(problem, solution)
        var byInstance: [String: [SwapExplanation]] = [:]
        for e in explanations { byInstance[e.instance, default: []].append(e) }
        var views: [SwapView] = []
        for (i, id) in problem.instanceIDs.enumerated() {
            guard let changes = byInstance[id], let record = instances[id] else { continue }
            let after = Array(solution.allocation[(i * 3)..<(i * 3 + 3)])
            let moved = solution.node[i] != problem.node[i]
            let upper95 = upperBounds(id, horizon: horizon, level: 2)
            let headroom = zip(after, upper95).map { $0 - $1 }
            var covered = 0.0
            for level in (0..<3).reversed() {
                let upper = upperBounds(id, horizon: horizon, level: level)
                if zip(after.prefix(2), upper.prefix(2)).allSatisfy({ $0 >= $1 - 1e-9 }) { covered = IntervalForecast.levels[level]; break }
            }
            views.append(SwapView(
                instance: id, tenant: record.tenant, fromNode: record.node, toNode: problem.nodeIDs[solution.node[i]],
                before: Amounts(record.allocation), after: Amounts(after),
                changes: changes.map { ResourceChange(resource: $0.resource, demand: $0.demand, old: $0.old, new: $0.new, saved: $0.saved, limit: $0.limit.rawValue) },
                benefit: changes.reduce(0) { $0 + $1.saved } - (moved ? problem.migrationCost[i] : 0),
                risk: RiskView(headroom95: Amounts(headroom), coveredLevel: covered, migrates: moved)))
        }
        return views
    }

    private func upperBounds(_ id: String, horizon: Int, level: Int) -> [Double] {
        guard let series = seriesOf[id], lastObservedSlot[id] != nil else { return instances[id]?.allocation ?? [0, 0, 0] }
        return [engine.forecast(series: series.cpu, horizon: horizon).upper[level],
                engine.forecast(series: series.memory, horizon: horizon).upper[level], lastUsed[id]?[2] ?? 0]
    }

    // MARK: Execution

    /// Applies a plan's swaps through the ledger in an order that never
    /// exceeds capacity, journaling each step before and after, and records
    /// the swaps. Returns how many were applied.
    public func execute<C: Clock>(_ view: PlanView, clock: C) async throws -> Int where C.Duration == Duration {
        let started = clock.now
        var steps: [PlanStep] = []
        for swap in view.swaps {
            steps.append(.resize(InstanceID(swap.instance), to: vector(swap.after.values)))
            if swap.fromNode != swap.toNode { steps.append(.migrate(InstanceID(swap.instance), to: NodeID(swap.toNode))) }
        }
        var ledger = try ledger(nodes: nodes, instances: Array(instances.values))
        let ordered: SwapPlan
        do { ordered = try ledger.ordered(SwapPlan(steps)) } catch { throw APIFailure.conflict("the plan no longer fits the pool: \(error)") }
        let now = poolTime
        for (k, step) in ordered.steps.enumerated() {
            try await store.append(journal: JournalEntry(plan: view.id, step: k, phase: "intent", detail: step.description, time: now))
            do { try ledger.apply(step) } catch { throw APIFailure.conflict("step \(k) (\(step)) refused: \(error)") }
            let id = step.instance.rawValue
            let index = try ledger.index(of: step.instance)
            var record = instances[id]!
            record.allocation = values(ledger.instances[index].allocation)
            record.node = ledger.nodes[ledger.nodeIndexOfInstance[index]].id.rawValue
            try await store.upsert(instance: record)
            instances[id] = record
            try await store.append(journal: JournalEntry(plan: view.id, step: k, phase: "done", detail: step.description, time: now))
        }
        let taken = started.duration(to: clock.now).components
        let elapsed = Double(taken.seconds) * 1e3 + Double(taken.attoseconds) * 1e-15
        var records: [SwapRecord] = []
        for swap in view.swaps {
            let used = lastUsed[swap.instance] ?? [0, 0, 0]
            func utilisation(_ allocation: [Double]) -> Double {
                let share = zip(used.prefix(2), allocation.prefix(2)).map { $1 > 0 ? $0 / $1 : 0 }
                return share.reduce(0, +) / 2
            }
            records.append(SwapRecord(plan: view.id, instance: swap.instance, tenant: swap.tenant, time: now,
                                      fromNode: swap.fromNode, toNode: swap.toNode, before: swap.before.values, after: swap.after.values,
                                      predictedBenefit: swap.benefit, utilisationBefore: utilisation(swap.before.values),
                                      durationMilliseconds: elapsed / Double(max(1, view.swaps.count)), outcome: .executed))
            cooldownUntil[swap.instance] = now + Int64(configuration.cooldownRounds * configuration.interval)
        }
        unsettled += try await store.record(swaps: records)
        return ordered.steps.count
    }

    func advanceRound() { round += 1 }
}

func vector(_ values: [Double]) -> ResourceVector { ResourceVector(cpu: values[0], memory: values[1], gpu: values[2]) }
func values(_ vector: ResourceVector) -> [Double] { [vector.cpu, vector.memory, vector.gpu] }
