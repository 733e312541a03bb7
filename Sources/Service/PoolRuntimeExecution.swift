import Drivers
import Execution
import Foundation
import PoolCore
import Storage
import SwapSolver

/// A run the executor performs, and what its swap indices stand for.
struct RunContext {
    enum Kind: String { case plan, rollback, recovery }
    var kind: Kind
    /// The plan record the swaps' records belong to.
    var plan: String
    var lifecycles: [SwapLifecycle]
    /// The stored record of each swap, once it has one.
    var records: [SwapRecord?]
    /// Predicted benefit of each swap.
    var benefits: [Double]
    /// Rollbacks the node had no room for in full: failed safe where they got to.
    var partial: Set<Int> = []
    /// Recovery: why the swaps it undoes ended.
    var note = ""
    var started = ContinuousClock.now
}

/// The runtime as the executor's host: the ledger's reservations, the instance records, the
/// journal and the swaps' records.
struct RuntimeExecutionHost: ExecutionHost {
    unowned let runtime: PoolRuntime

    func willPerform(_ action: DriverAction, run: String, step: Int) async throws {
        try await runtime.willPerform(action, run: run, step: step)
    }

    func didPerform(_ action: DriverAction, run: String, step: Int, outcome: ActionOutcome) async throws {
        try await runtime.didPerform(action, run: run, step: step, outcome: outcome)
    }

    func swapsChanged(_ events: [PlanRun.Event], in run: PlanRun) async throws {
        try await runtime.swapsChanged(events, in: run)
    }
}

extension PoolRuntime {
    // MARK: The executor's host

    func willPerform(_ action: DriverAction, run: String, step: Int) async throws {
        await acquireRegistry()
        defer { releaseRegistry() }
        try registry.reserve(action)
        do {
            try await store.append(journal: JournalEntry(plan: run, step: step, phase: "intent", detail: action.description,
                                                         time: poolTime, action: SwapRecords.text(action)))
        } catch {
            _ = registry.settle(action, outcome: .failed("the journal could not be written", actual: nil))
            throw error
        }
    }

    func didPerform(_ action: DriverAction, run: String, step: Int, outcome: ActionOutcome) async throws {
        await acquireRegistry()
        defer { releaseRegistry() }
        let record = registry.settle(action, outcome: outcome)
        let phase: String, detail: String
        switch outcome {
        case .done: (phase, detail) = ("done", action.description)
        case .failed(let why, let actual):
            (phase, detail) = ("failed", "\(action): \(why)" + (actual.map { "; the driver reads \(DriverActionText.amounts($0))" } ?? ""))
        case .refused(let why): (phase, detail) = ("refused", "\(action): \(why)")
        }
        if case .refused = outcome {} else if let record { try await store.upsert(instance: record) }
        try await store.append(journal: JournalEntry(plan: run, step: step, phase: phase, detail: detail, time: poolTime, action: SwapRecords.text(action)))
    }

    func swapsChanged(_ events: [PlanRun.Event], in run: PlanRun) async throws {
        guard var context = runs[run.id] else { return }
        for event in events {
            switch event {
            case .applied(let k):
                let id = context.lifecycles[k].change.instance.rawValue
                switch context.kind {
                case .plan:
                    try context.lifecycles[k].applied(baseline: monitor.baseline(id, rounds: configuration.verification.baselineRounds))
                    cooldownUntil[id] = poolTime + Int64(configuration.cooldownRounds) * interval
                    let record = try await save(&context, k)
                    try await commitSuperseded(id)
                    monitor.watch(record, context.lifecycles[k])
                case .rollback, .recovery:
                    if context.partial.contains(k) {
                        try context.lifecycles[k].failedSafe("no room on \(context.lifecycles[k].change.fromNode) to roll back in full; left at what fits",
                                                             at: allocation(of: id))
                    } else if context.lifecycles[k].phase == .rollingBack {
                        try context.lifecycles[k].rolledBack()
                    } else {
                        try context.lifecycles[k].reversed(context.note)
                    }
                    measure(&context.lifecycles[k])
                    _ = try await save(&context, k)
                }
            case .reversed(let k, let reason):
                if [.applying, .verifying].contains(context.lifecycles[k].phase) { try context.lifecycles[k].reversed(reason) }
                if let id = context.records[k]?.id { monitor.stopWatching(id) }
                _ = try await save(&context, k)
            case .failedSafe(let k, let reason):
                let id = context.lifecycles[k].change.instance.rawValue
                if !context.lifecycles[k].phase.isFinal { try context.lifecycles[k].failedSafe(reason, at: allocation(of: id)) }
                if let id = context.records[k]?.id { monitor.stopWatching(id) }
                measure(&context.lifecycles[k])
                _ = try await save(&context, k)
            }
            runs[run.id] = context
        }
    }

    func allocation(of id: String) -> ResourceVector {
        registry.records[id].map { vector($0.allocation) } ?? .zero
    }

    /// Stores swap `k` of `context` as its lifecycle now stands: a new record the first time.
    func save(_ context: inout RunContext, _ k: Int) async throws -> SwapRecord {
        let lifecycle = context.lifecycles[k]
        let elapsed = ContinuousClock.now - context.started
        let milliseconds = Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) * 1e-15
        defer {
            if let record = context.records[k] {
                if record.outcome == .held { held[record.instance] = record.time } else if held[record.instance] != nil, existingHeld(record) { held[record.instance] = nil }
            }
        }
        if let existing = context.records[k] {
            var record = SwapRecords.updated(existing, lifecycle, at: poolTime)
            if context.kind == .plan, existing.outcome == .held { record.durationMilliseconds = milliseconds }
            try await store.update(swaps: [record])
            context.records[k] = record
            return record
        }
        let change = lifecycle.change
        var record = SwapRecord(plan: context.plan, instance: change.instance.rawValue, tenant: change.tenant, time: poolTime,
                                fromNode: change.fromNode.rawValue, toNode: change.toNode.rawValue,
                                before: values(change.before), after: values(change.after), predictedBenefit: context.benefits[k],
                                utilisationBefore: utilisation(forecaster.lastUsed[change.instance.rawValue], values(change.before)),
                                durationMilliseconds: milliseconds, outcome: .verifying)
        record = SwapRecords.updated(record, lifecycle, at: poolTime)
        record = try await store.record(swaps: [record])[0]
        context.records[k] = record
        return record
    }

    /// Whether `record` was the instance's held swap (now approved, refused or expired).
    private func existingHeld(_ record: SwapRecord) -> Bool { held[record.instance] == record.time }

    func utilisation(_ used: [Double]?, _ allocation: [Double]) -> Double {
        guard let used else { return 0 }
        let share = zip(used.prefix(2), allocation.prefix(2)).map { $1 > 0 ? $0 / $1 : 0 }
        return share.reduce(0, +) / 2
    }

    /// Records what the swap's verification window measured.
    func measure(_ lifecycle: inout SwapLifecycle) {
        guard let rounds = lifecycle.verification?.rounds else { return }
        let change = lifecycle.change
        let weight = registry.records[change.instance.rawValue]?.weight ?? 1
        let prices = Prices(waste: configuration.wasteCost, shortfall: configuration.shortfallCost, change: configuration.changeCost,
                            oomKill: configuration.oomKillCost)
        // A move is priced from the estimate it was approved with, at the demand measured after it.
        let present = rounds.filter(\.present)
        let demand = present.isEmpty ? change.before
            : ResourceVector(cpu: present.reduce(0) { $0 + $1.cpu + $1.throttled } / Double(present.count),
                             memory: present.reduce(0) { $0 + $1.memory } / Double(present.count))
        let migrationCost = lifecycle.risk?.migration.map {
            MigrationPricing.cost($0, allocation: change.before, demand: demand, weight: weight, waste: configuration.wasteCost,
                                  shortfall: configuration.shortfallCost, fixed: configuration.migrationFixedCost,
                                  slotSeconds: Double(configuration.interval))
        } ?? configuration.migrationFixedCost
        if let measured = RealisedBenefit.measure(change, rounds: rounds, weight: weight, migrationCost: migrationCost, prices: prices) {
            lifecycle.settle(benefit: measured.benefit, utilisation: measured.utilisation)
        }
    }

    // MARK: Plans

    /// Why `id` may not change now, or nil. `restricting`: whether the change takes anything
    /// away or moves the instance, which a cooldown forbids. `verifying`: `verifyingLocks`,
    /// when the caller has them at hand.
    func lockedBecause(_ id: String, restricting: Bool, verifying: Set<String>? = nil, approving: Bool = false) -> String? {
        if restricting, let why = coolingDown(id) { return why }
        if !forecaster.observed(id) { return "no usage observed yet" }
        if missing.contains(id) { return "the \(driver.name) driver no longer lists it" }
        if verifying?.contains(id) ?? verifyingLocks.contains(id) { return "a swap of it is being verified" }
        if held[id] != nil, !approving { return "a swap of it waits for an operator's approval" }
        return nil
    }

    /// The instances a swap being verified locks: those whose swap took something away or
    /// moved them. A pure grow cannot regress, so its instance may change again at once.
    var verifyingLocks: Set<String> {
        Set(monitor.watched.values.filter { !$0.lifecycle.change.isPureGrow }.map(\.record.instance))
    }

    /// Commits the pure grows of `id` still in their window, once a later swap of it took
    /// effect: a grow cannot regress, and one instance has one swap being verified.
    func commitSuperseded(_ id: String) async throws {
        var updates: [SwapRecord] = []
        for (key, entry) in monitor.watched where entry.record.instance == id && entry.lifecycle.change.isPureGrow {
            var lifecycle = entry.lifecycle
            try lifecycle.superseded()
            measure(&lifecycle)
            monitor.stopWatching(key)
            updates.append(SwapRecords.updated(entry.record, lifecycle, at: poolTime))
        }
        if !updates.isEmpty { try await store.update(swaps: updates) }
        supersededCommits += updates.count
    }

    /// Why `id` may not shrink or move now (the `cooldownRounds` rounds after a swap of it took
    /// effect), or nil. Grows are never held back.
    func coolingDown(_ id: String) -> String? {
        guard let until = cooldownUntil[id], until >= poolTime else { return nil }
        return "cooling down after a swap until \(UTCTime.iso8601(until)): no shrink or migration before"
    }

    /// Whether `swap` takes anything away from its instance or moves it.
    static func restricts(_ swap: SwapView) -> Bool {
        swap.fromNode != swap.toNode || zip(swap.after.values, swap.before.values).contains { $0 < $1 }
    }

    /// Why `swap` no longer matches the pool (its allocation or node changed since it was planned).
    func staleness(_ swap: SwapView) -> String? {
        guard let record = registry.records[swap.instance] else { return "instance \(swap.instance) is no longer registered" }
        if record.node != swap.fromNode { return "stale: \(swap.instance) is on \(record.node) now, not \(swap.fromNode)" }
        if zip(record.allocation, swap.before.values).contains(where: { abs($0 - $1) > 1e-9 * max(1, abs($1)) }) {
            return "stale: \(swap.instance) holds \(DriverActionText.amounts(vector(record.allocation))) now, not the \(DriverActionText.amounts(vector(swap.before.values))) planned from"
        }
        return nil
    }

    /// The risk assessment of `swaps` as one plan, over the `horizon` slots it looks ahead.
    /// `force`: the chance and blast-radius gates are lifted (the memory floor and "no
    /// forecast, no shrink" stay).
    func assess(_ swaps: [SwapView], force: Bool, horizon: Int) async -> [RiskReport] {
        var inputs: [RiskInput] = []
        for swap in swaps {
            let change = PlanFormulation.change(swap)
            // Asked again for the chosen node: the plan's options keep only the dearest figures.
            let estimate = change.migrates ? await driver.migrationEstimate(of: change.instance, to: change.toNode) : nil
            inputs.append(RiskInput(change: change, benefit: swap.benefit,
                                    forecasts: forecaster.quantiles(swap.instance, slots: horizon),
                                    workingSet: monitor.workingSet(swap.instance),
                                    gpuInUse: forecaster.lastUsed[swap.instance]?[2], migration: estimate,
                                    allowed: forecaster.allowedExceedance(weight: registry.records[swap.instance]?.weight ?? 1)))
        }
        var policy = configuration.risk
        if force {
            policy.approveWithin = .infinity
            policy.holdBelow = 1
            policy.maxInstances = .max
            policy.maxTenants = .max
            policy.maxNodes = .max
            policy.maxDowntimeMilliseconds = .infinity
            policy.maxMigrationSeconds = .infinity
        }
        return RiskAssessment.assess(plan: inputs, policy: policy)
    }

    /// The instances a plan for `request` may move: the operator's own moves, or those in the
    /// request's scope (tenant, instances) that are free to move now.
    func movable(_ request: SwapRequestBody, tenantScope: String?) -> [String] {
        func visible(_ id: String) -> Bool {
            guard let record = registry.records[id] else { return false }
            return tenantScope == nil || record.tenant == tenantScope
        }
        if let nodes = request.nodes, !nodes.isEmpty { return nodes.keys.filter(visible).sorted() }
        guard (request.allocations ?? [:]).isEmpty, (request.maxMigrations ?? configuration.maxMigrations) > 0 else { return [] }
        let tenant = tenantScope ?? request.tenant, scope = request.instances.map(Set.init)
        let verifying = verifyingLocks
        return forecaster.order.filter { id in
            guard let record = registry.records[id], tenant == nil || record.tenant == tenant, scope?.contains(id) ?? true else { return false }
            return lockedBecause(id, restricting: true, verifying: verifying) == nil
        }
    }

    /// Where each of `ids` may move and at what dearest estimate, from the driver's estimates of
    /// moving it to every other node, `estimateConcurrency` instances at a time (a real driver
    /// measures each for a while). Reduced as they come: a pool of n instances and m nodes keeps
    /// no n × m estimates.
    func migrationOptions(_ ids: [String], force: Bool) async -> [String: PlanFormulation.MigrationOptions] {
        let nodes = registry.nodes.map { NodeID($0.id) }
        var asks = ids.compactMap { id in registry.records[id].map { (id, $0.node) } }.makeIterator()
        let driver = self.driver, risk = configuration.risk
        return await withTaskGroup(of: (String, PlanFormulation.MigrationOptions?).self) { group in
            func ask(_ next: (String, String)?) {
                guard let (id, home) = next else { return }
                group.addTask { () async -> (String, PlanFormulation.MigrationOptions?) in
                    var estimates = await driver.migrationEstimates(of: InstanceID(id), to: nodes)
                    for k in estimates.indices where nodes[k].rawValue == home { estimates[k] = nil }
                    return (id, PlanFormulation.migrationOptions(estimates, risk: risk, force: force))
                }
            }
            for _ in 0..<Self.estimateConcurrency { ask(asks.next()) }
            var out: [String: PlanFormulation.MigrationOptions] = [:]
            for await (id, options) in group {
                if let options { out[id] = options }
                ask(asks.next())
            }
            return out
        }
    }

    /// Instances whose moves are estimated at once.
    static let estimateConcurrency = 8

    /// The slots `plan` was assessed over when it was made; the configured horizon if it never was.
    func horizonSlots(of plan: PlanView) -> Int {
        plan.swaps.lazy.compactMap { $0.risk.assessment?.horizonSlots }.first ?? configuration.horizonSlots
    }

    /// Formulates the swap problem for `request`, solves it within `solverSeconds` (nil: until
    /// it stops on its own), and answers with every swap, its explanation and risk assessment.
    /// Nothing changes here.
    /// `loop`: the control loop's own plan, whose solve the next one starts from.
    public func plan(_ request: SwapRequestBody, tenantScope: String?, solverSeconds: Double?, loop: Bool = false) async throws -> PlanView {
        // What the loop's plan sets holds until its next plan at least: it covers those slots.
        let horizon = try PlanFormulation.horizonSlots(request.horizon, default: max(configuration.horizonSlots, configuration.planEveryRounds),
                                                       interval: configuration.interval)
        // The driver's estimates of moves come first: they take a while (a real driver measures
        // each instance), and the pool the plan reads is the one after them. The solver's time
        // starts after them.
        let options = driver.capabilities.migrates
            ? await migrationOptions(movable(request, tenantScope: tenantScope), force: request.force ?? false) : [:]
        let deadline = solverSeconds.map { ContinuousClock.now.advanced(by: .seconds($0)) }
        let shouldStop: @Sendable () -> Bool = { deadline.map { ContinuousClock.now >= $0 } ?? false }
        var locked: [String: String] = [:]
        let verifying = verifyingLocks
        var noShrink: [String: String] = [:]
        for id in forecaster.order {
            locked[id] = lockedBecause(id, restricting: false, verifying: verifying)
            noShrink[id] = coolingDown(id)
        }
        var formulation = PlanFormulation(configuration: configuration, registry: registry, locked: locked, noShrink: noShrink,
                                          migrates: driver.capabilities.migrates)
        for entry in monitor.watched.values {
            let change = SwapRecords.change(entry.record)
            let given = change.migrates ? change.before : ResourceVector.maximum(.zero, change.before - change.after)
            formulation.heldBack[change.fromNode.rawValue] = zip(formulation.heldBack[change.fromNode.rawValue] ?? [0, 0, 0], values(given)).map { $0 + $1 }
        }
        for id in forecaster.order {
            if let workingSet = monitor.workingSet(id) {
                formulation.memoryFloor[id] = workingSet * (1 + configuration.risk.memoryMarginFraction) + configuration.risk.memoryMarginGiB
            }
        }
        formulation.migrationOptions = options
        if loop { formulation.warmStart = lastSolve }
        let result = try formulation.formulate(request, tenantScope: tenantScope, horizon: horizon, forecaster: &forecaster, shouldStop: shouldStop)
        if loop, result.solution.status != .infeasible { lastSolve = SwapWarmStart(problem: result.problem, solution: result.solution) }
        var swaps = result.swaps
        let reports = await assess(swaps, force: request.force ?? false, horizon: horizon)
        for k in swaps.indices {
            swaps[k] = Self.trimmed(swaps[k], by: reports[k])
            swaps[k].state = "planned"
            if !reports[k].reasons.isEmpty { swaps[k].reason = reports[k].reasons.joined(separator: "; ") }
        }
        // What would run: the approved swaps that fit without the others; its objective checked.
        let approved = swaps.indices.filter { reports[$0].decision == .approve }
        let runs = FittingSubset.select(approved.map { PlanFormulation.change(swaps[$0]) }, benefit: approved.map { swaps[$0].benefit },
                                        in: registry.ledger).map { approved[$0] }
        var node = result.problem.node, allocation = result.problem.allocation
        let position = Dictionary(uniqueKeysWithValues: result.problem.instanceIDs.enumerated().map { ($1, $0) })
        for k in runs {
            guard let i = position[swaps[k].instance] else { continue }
            node[i] = result.problem.nodeIDs.firstIndex(of: swaps[k].toNode) ?? node[i]
            for r in 0..<3 { allocation[i * 3 + r] = swaps[k].after.values[r] }
        }
        var relaxed = result.problem
        relaxed.maxChange = relaxed.maxChange.map { _ in .infinity }
        let after = SolutionChecker.check(relaxed, node: node, allocation: allocation).objective
        planSerial += 1
        let id = "plan-\(poolTime)-\(planSerial)"
        let solution = result.solution
        return PlanView(id: id, status: "dryRun", statusURL: "/swaps/\(id)", created: poolTime,
                        solver: solution.status.rawValue + (solution.reason.map { " (\($0))" } ?? ""),
                        gap: solution.gap.isFinite ? solution.gap : nil,
                        objectiveBefore: result.objectiveBefore, objectiveAfter: after, swaps: swaps, journal: nil, kind: "plan")
    }

    /// `swap` as the risk assessment `report` leaves it: the resources whose shrink it refused
    /// kept as they were, with the benefit of what is left.
    static func trimmed(_ swap: SwapView, by report: RiskReport) -> SwapView {
        var swap = swap
        swap.risk.assessment = report
        guard let after = report.approvedAfter else { return swap }
        let kept = values(after)
        let dropped = swap.changes.filter { change in
            guard let r = ["cpu", "memory", "gpu"].firstIndex(of: change.resource) else { return false }
            return kept[r] != change.new
        }
        swap.changes.removeAll { change in dropped.contains { $0.resource == change.resource } }
        swap.benefit -= dropped.reduce(0) { $0 + $1.saved }
        swap.after = Amounts(kept)
        return swap
    }

    /// Executes a plan: every swap re-validated against the pool as it is now (a stale `before`,
    /// a cooldown: refused), assessed (`reassess`, else the plan's own assessment stands), and
    /// the approved ones that fit without the others applied through the driver. Held swaps
    /// wait for `approve`; the answer is the plan as it ended.
    /// `recordRejected`: whether refused swaps go to the swap history (an operator's plans) or
    /// only into the plan's own record (the loop's plans, made anew every round).
    public func execute(_ plan: PlanView, request: String, tenant: String?, force: Bool, reassess: Bool, recordRejected: Bool = true) async throws -> PlanView {
        var lifecycles = plan.swaps.map { SwapLifecycle(change: PlanFormulation.change($0)) }
        for (k, swap) in plan.swaps.enumerated() {
            if let why = staleness(swap) ?? lockedBecause(swap.instance, restricting: Self.restricts(swap)) { try lifecycles[k].refuse(why) }
        }
        let candidates = lifecycles.indices.filter { lifecycles[$0].phase == .planned }
        let reports: [RiskReport]
        if reassess || candidates.contains(where: { plan.swaps[$0].risk.assessment == nil }) {
            reports = await assess(candidates.map { plan.swaps[$0] }, force: force, horizon: horizonSlots(of: plan))
        } else {
            reports = candidates.map { plan.swaps[$0].risk.assessment! }
        }
        var assessed = plan
        for (k, report) in zip(candidates, reports) {
            try lifecycles[k].assessed(report)
            assessed.swaps[k] = Self.trimmed(plan.swaps[k], by: report)
        }
        return try await run(assessed, lifecycles: lifecycles, records: Array(repeating: nil, count: plan.swaps.count), request: request, tenant: tenant,
                             recordRejected: recordRejected)
    }

    /// Runs the approved swaps of `plan` that fit without the others, storing every swap's
    /// record as it ends or takes effect, and the plan's record.
    private func run(_ plan: PlanView, lifecycles start: [SwapLifecycle], records: [SwapRecord?], request: String, tenant: String?,
                     recordRejected: Bool = true) async throws -> PlanView {
        var lifecycles = start
        let approved = lifecycles.indices.filter { lifecycles[$0].phase == .approved }
        let fitting = Set(FittingSubset.select(approved.map { lifecycles[$0].change }, benefit: approved.map { plan.swaps[$0].benefit },
                                               in: registry.ledger).map { approved[$0] })
        for k in approved where !fitting.contains(k) {
            try lifecycles[k].refuse("no room on the node without the swaps of this plan that were held or rejected")
        }
        var targets: [ExecutionTarget] = []
        for k in lifecycles.indices where lifecycles[k].phase == .approved {
            let change = lifecycles[k].change
            targets.append(ExecutionTarget(instance: change.instance, allocation: change.after, node: change.toNode, swap: k))
        }
        var steps: [PlanRun.Step] = []
        do { steps = try ExecutionOrder.steps(targets, in: registry.ledger) } catch {
            for target in targets { try lifecycles[target.swap!].refuse("no order of steps keeps the pool within capacity: \(error)") }
        }
        for k in lifecycles.indices where lifecycles[k].phase == .approved { _ = try lifecycles[k].start() }

        var context = RunContext(kind: .plan, plan: plan.id, lifecycles: lifecycles, records: records, benefits: plan.swaps.map(\.benefit))
        // Held and rejected swaps are recorded now; the others as they take effect.
        for k in lifecycles.indices where lifecycles[k].phase == .held || (lifecycles[k].phase == .rejected && (recordRejected || records[k] != nil)) {
            _ = try await save(&context, k)
        }
        var answer = plan
        answer.status = "executing"
        var record = PlanRecord(id: plan.id, created: plan.created, status: .executing, tenant: tenant, request: request,
                                answer: try Self.text(describe(answer, context)))
        try await store.save(plan: record)
        runs[plan.id] = context
        defer { runs[plan.id] = nil }
        let finished: PlanRun
        do { finished = try await executor.perform(PlanRun(id: plan.id, mode: .reverseOnFailure, steps: steps)) } catch {
            runs[plan.id] = nil
            await recoverNow(plan.id)
            throw error
        }
        context = runs[plan.id] ?? context
        answer.failure = finished.failure
        let held = context.lifecycles.contains { $0.phase == .held }
        record.status = finished.state == .reversed ? .failed : held ? .held : .executed
        answer.status = record.status.rawValue
        record.answer = try Self.text(describe(answer, context))
        try await store.save(plan: record)
        return describe(answer, context)
    }

    /// `plan` with each swap's state, reason, record and verification as `context` has them.
    private func describe(_ plan: PlanView, _ context: RunContext) -> PlanView {
        var plan = plan
        for k in plan.swaps.indices where k < context.lifecycles.count {
            let lifecycle = context.lifecycles[k]
            plan.swaps[k].state = (context.records[k]?.outcome.rawValue) ?? lifecycle.phase.rawValue
            plan.swaps[k].reason = lifecycle.reason
            plan.swaps[k].swapID = context.records[k]?.id
            plan.swaps[k].verification = lifecycle.verification
            if let risk = lifecycle.risk { plan.swaps[k].risk.assessment = risk }
        }
        return plan
    }

    static func text<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try SwapRecords.encoder.encode(value), as: UTF8.self)
    }

    /// Runs the held swaps of plan `id` an operator approves, re-validated against the pool.
    public func approve(plan id: String, tenant: String?) async throws -> PlanView {
        guard let record = try await store.plan(id: id), tenant == nil || record.tenant == tenant,
              let plan = SwapRecords.value(PlanView.self, record.answer) else { throw APIFailure.notFound("plan \(id) not found") }
        let held = try await store.swapHistory(SwapHistoryQuery(plan: id, outcome: .held, limit: 100_000))
        guard record.status == .held, !held.isEmpty, !approving.contains(id) else {
            throw APIFailure.conflict("plan \(id) is \(approving.contains(id) ? "being approved" : record.status.rawValue): it has no swaps waiting for approval")
        }
        approving.insert(id)
        defer { approving.remove(id) }
        var view = plan
        view.swaps = []
        var lifecycles: [SwapLifecycle] = [], records: [SwapRecord?] = []
        for swapRecord in held.reversed() {
            guard var swap = plan.swaps.first(where: { $0.swapID == swapRecord.id }) ?? plan.swaps.first(where: { $0.instance == swapRecord.instance }) else { continue }
            var lifecycle = SwapRecords.lifecycle(swapRecord)
            if let why = staleness(swap) ?? lockedBecause(swap.instance, restricting: Self.restricts(swap), approving: true) { try lifecycle.refuse(why) } else { try lifecycle.approve() }
            swap.swapID = swapRecord.id
            view.swaps.append(swap)
            lifecycles.append(lifecycle)
            records.append(swapRecord)
        }
        // An operator's approval lifts the chance and blast-radius gates, not the ones that
        // fail closed: the forecast and the memory floor as they are now.
        let pending = lifecycles.indices.filter { lifecycles[$0].phase == .approved }
        let now = await assess(pending.map { view.swaps[$0] }, force: true, horizon: horizonSlots(of: view))
        for (k, report) in zip(pending, now) where report.decision != .approve || report.approvedAfter != nil {
            try lifecycles[k].refuse("approved, but no longer passes the gates: " + report.reasons.joined(separator: "; "))
        }
        try await store.append(journal: JournalEntry(plan: id, step: -1, phase: "approved", detail: "\(view.swaps.count) held swaps approved", time: poolTime))
        let ran = try await run(view, lifecycles: lifecycles, records: records, request: record.request, tenant: record.tenant)
        // The plan's record keeps all its swaps.
        var whole = plan
        for swap in ran.swaps { if let k = whole.swaps.firstIndex(where: { $0.instance == swap.instance }) { whole.swaps[k] = swap } }
        whole.status = ran.status
        var updated = record
        updated.status = PlanRecord.Status(rawValue: ran.status) ?? .executed
        updated.answer = try Self.text(whole)
        try await store.save(plan: updated)
        return whole
    }

    /// Rejects the held swaps that waited longer than `holdExpiryRounds`; returns how many.
    func expireHeld(at time: Int64) async throws -> Int {
        let limit = Int64(configuration.holdExpiryRounds) * interval
        let due = held.filter { time - $0.value >= limit }
        guard !due.isEmpty else { return 0 }
        var updates: [SwapRecord] = []
        var plans = Set<String>()
        for record in try await store.swapHistory(SwapHistoryQuery(outcome: .held, limit: 1_000_000)) where due[record.instance] == record.time {
            var lifecycle = SwapRecords.lifecycle(record)
            try lifecycle.refuse("expired: not approved within \(configuration.holdExpiryRounds) rounds")
            updates.append(SwapRecords.updated(record, lifecycle, at: time))
            plans.insert(record.plan)
            held[record.instance] = nil
        }
        try await store.update(swaps: updates)
        for id in plans {
            guard var plan = try await store.plan(id: id), plan.status == .held,
                  try await store.swapHistory(SwapHistoryQuery(plan: id, outcome: .held, limit: 1)).isEmpty else { continue }
            plan.status = .executed
            try await store.save(plan: plan)
        }
        return updates.count
    }

    // MARK: Rollback

    /// Rolls back the swaps of plan `id` that took effect and are verifying or committed (those
    /// of `instances` only, when given): each instance back to its old allocation and node.
    public func rollBack(plan id: String, instances: [String]?, reason: String, tenant: String?) async throws -> PlanView {
        guard let record = try await store.plan(id: id), tenant == nil || record.tenant == tenant else { throw APIFailure.notFound("plan \(id) not found") }
        let stored = try await store.swapHistory(SwapHistoryQuery(plan: id, limit: 100_000))
        let chosen = stored.filter { ($0.outcome == .verifying || $0.outcome == .committed) && (instances.map(Set.init)?.contains($0.instance) ?? true)
            && !rollingBack.contains($0.id ?? -1) }
        guard !chosen.isEmpty else {
            throw APIFailure.conflict("plan \(id) has no swap that took effect and is not rolled back or rolling back already\(instances.map { " among \($0.joined(separator: ", "))" } ?? "")")
        }
        var pairs: [(SwapRecord, SwapLifecycle)] = []
        for swap in chosen {
            if let watchedID = swap.id { monitor.stopWatching(watchedID) }
            var lifecycle = SwapRecords.lifecycle(swap)
            _ = try lifecycle.rollBack(reason)
            pairs.append((swap, lifecycle))
        }
        return try await rollBack(pairs, origin: id)
    }

    /// Undoes swaps already rolling back: each to its old allocation and node, in an order the
    /// ledger keeps valid. One with no room for its old allocation is taken as far back as fits
    /// and failed safe; one whose step fails goes to its safe allocation and is failed safe.
    func rollBack(_ asked: [(SwapRecord, SwapLifecycle)], origin: String?) async throws -> PlanView {
        // Taken on before the first suspension: a second request sees them as rolling back.
        let taken = Set(asked.compactMap(\.0.id)).subtracting(rollingBack)
        rollingBack.formUnion(taken)
        var owned = taken
        defer { rollingBack.subtract(owned) }
        let pairs = try await withCompanions(asked).filter { pair in
            guard let id = pair.0.id, !taken.contains(id) else { return true }
            return !rollingBack.contains(id)  // a companion another rollback took on meanwhile stays with it
        }
        owned.formUnion(pairs.compactMap(\.0.id))
        rollingBack.formUnion(owned)
        var targets: [ExecutionTarget] = []
        var partial: Set<Int> = []
        var room = registry.ledger.nodes.indices.map { registry.ledger.nodes[$0].allocatable - registry.ledger.allocated[$0] }
        let nodeIndex = Dictionary(uniqueKeysWithValues: registry.ledger.nodes.enumerated().map { ($1.id, $0) })
        // What the rollbacks give back first, then what they take, each as far as the node has room.
        for (_, lifecycle) in pairs where !lifecycle.change.migrates {
            let change = lifecycle.change
            if let n = nodeIndex[change.fromNode] { room[n] += ResourceVector.maximum(.zero, allocation(of: change.instance.rawValue) - change.before) }
        }
        for (k, (_, lifecycle)) in pairs.enumerated() {
            let change = lifecycle.change
            var target = change.before
            if let n = nodeIndex[change.fromNode] {
                let onSource = change.migrates ? ResourceVector.zero : allocation(of: change.instance.rawValue)
                for r in Resource.allCases where target[r] - onSource[r] > 0 {
                    if target[r] - onSource[r] > room[n][r] + 1e-9 {
                        target[r] = onSource[r] + max(0, room[n][r])
                        if r == .gpu { target[r] = target[r].rounded(.down) }
                        partial.insert(k)
                    }
                    room[n][r] -= target[r] - onSource[r]
                }
            }
            targets.append(ExecutionTarget(instance: change.instance, allocation: target, node: change.fromNode, swap: k,
                                           safe: lifecycle.safeAllocation))
        }
        let steps: [PlanRun.Step]
        do {
            steps = try ExecutionOrder.steps(targets, in: registry.ledger)
        } catch {
            // Nothing can move: every swap stays where it is, for an operator.
            var context = RunContext(kind: .rollback, plan: origin ?? "rollback", lifecycles: pairs.map(\.1), records: pairs.map(\.0),
                                     benefits: pairs.map(\.0.predictedBenefit))
            for k in pairs.indices {
                try context.lifecycles[k].failedSafe("no order of steps takes the pool back within capacity: \(error)",
                                                     at: allocation(of: pairs[k].0.instance))
                measure(&context.lifecycles[k])
                _ = try await save(&context, k)
            }
            throw APIFailure.conflict("cannot roll back: no order of steps keeps the pool within capacity: \(error)")
        }
        planSerial += 1
        let runID = "rollback-\(poolTime)-\(planSerial)"
        let swaps = pairs.enumerated().map { k, pair in
            SwapView(instance: pair.0.instance, tenant: pair.0.tenant, fromNode: pair.0.toNode, toNode: pair.0.fromNode,
                     before: Amounts(pair.0.after), after: Amounts(values(targets[k].allocation)), changes: [], benefit: 0,
                     risk: RiskView(headroom95: Amounts([0, 0, 0]), coveredLevel: 0, migrates: pair.0.toNode != pair.0.fromNode),
                     state: "rollingBack", reason: pair.1.reason, swapID: pair.0.id)
        }
        var view = PlanView(id: runID, status: "executing", statusURL: "/swaps/\(runID)", created: poolTime, solver: "rollback", gap: nil,
                            objectiveBefore: 0, objectiveAfter: 0, swaps: swaps, journal: nil, kind: "rollback", rollsBack: origin)
        var record = PlanRecord(id: runID, created: poolTime, status: .executing, tenant: nil, request: "{\"rollsBack\":\"\(origin ?? "")\"}",
                                answer: try Self.text(view))
        try await store.save(plan: record)
        var context = RunContext(kind: .rollback, plan: runID, lifecycles: pairs.map(\.1), records: pairs.map(\.0), benefits: pairs.map(\.0.predictedBenefit))
        context.partial = partial
        runs[runID] = context
        defer { runs[runID] = nil }
        do { _ = try await executor.perform(PlanRun(id: runID, mode: .continueOnFailure, steps: steps)) } catch {
            runs[runID] = nil
            await recoverNow(runID)
            throw error
        }
        context = runs[runID] ?? context
        for k in view.swaps.indices {
            view.swaps[k].state = context.records[k]?.outcome.rawValue ?? context.lifecycles[k].phase.rawValue
            view.swaps[k].reason = context.lifecycles[k].reason
            view.swaps[k].verification = context.lifecycles[k].verification
        }
        view.status = PlanRecord.Status.executed.rawValue
        record.status = .executed
        record.answer = try Self.text(view)
        try await store.save(plan: record)
        return view
    }

    /// `pairs` with the swaps of their plans that took the room a rollback needs back: a grow
    /// on the same node that its plan made with what a rolled-back shrink gave up.
    private func withCompanions(_ pairs: [(SwapRecord, SwapLifecycle)]) async throws -> [(SwapRecord, SwapLifecycle)] {
        var out = pairs
        let taken = Set(pairs.compactMap(\.0.id))
        for (record, lifecycle) in pairs where !lifecycle.change.shrunk.isEmpty || lifecycle.change.migrates {
            let change = lifecycle.change
            let needed = ResourceVector.maximum(.zero, change.before - (change.migrates ? .zero : change.after))
            guard let n = try? registry.ledger.index(of: change.fromNode) else { continue }
            var room = registry.ledger.nodes[n].allocatable - registry.ledger.allocated[n]
            guard Resource.allCases.contains(where: { needed[$0] > room[$0] + 1e-9 }) else { continue }
            for other in try await store.swapHistory(SwapHistoryQuery(plan: record.plan, limit: 100_000))
            where other.outcome == .verifying || other.outcome == .committed {
                guard let id = other.id, !taken.contains(id), !out.contains(where: { $0.0.id == id }), other.toNode == change.fromNode.rawValue,
                      zip(other.after, other.before).contains(where: { $0 > $1 }) else { continue }
                var companion = SwapRecords.lifecycle(other)
                monitor.stopWatching(id)
                _ = try companion.rollBack("rolled back with \(record.instance), whose room its plan gave it")
                out.append((other, companion))
                room += ResourceVector.maximum(.zero, vector(other.after) - vector(other.before))
                if !Resource.allCases.contains(where: { needed[$0] > room[$0] + 1e-9 }) { break }
            }
        }
        return out
    }

    // MARK: Verification

    /// The round of every swap being verified: committed after its window (with what it
    /// measured), rolled back at a regression. Returns how many committed and rolled back.
    func verifyRound(time: Int64) async throws -> (committed: Int, rolledBack: Int) {
        var updates: [SwapRecord] = []
        var regressions: [(SwapRecord, SwapLifecycle)] = []
        var committed = 0
        for (id, entry) in monitor.watched.sorted(by: { $0.key < $1.key }) {
            guard let round = monitor.latest(entry.record.instance), round.time == time else { continue }
            var lifecycle = entry.lifecycle
            let actions = try lifecycle.observe(round, thresholds: configuration.verification)
            if !actions.isEmpty {
                monitor.stopWatching(id)
                regressions.append((entry.record, lifecycle))
                continue
            }
            if lifecycle.phase == .committed {
                measure(&lifecycle)
                monitor.stopWatching(id)
                committed += 1
            } else {
                monitor.update(id) { $0.lifecycle = lifecycle }
            }
            updates.append(SwapRecords.updated(entry.record, lifecycle, at: time))
        }
        try await store.update(swaps: updates)
        for record in updates { if let id = record.id { monitor.update(id) { $0.record = record } } }
        // Those an error stopped last round, unless they got as far as running (and were ended).
        for pair in retryRollbacks {
            let now = try await store.swapHistory(SwapHistoryQuery(instance: pair.0.instance, limit: 100)).first { $0.id == pair.0.id }
            if let now, now.outcome == .verifying || now.outcome == .committed { regressions.append(pair) }
        }
        retryRollbacks = []
        if !regressions.isEmpty {
            do { _ = try await rollBack(regressions, origin: nil) } catch let failure as APIFailure {
                logger.error("rollback after a regression: \(failure)")  // failed safe, for an operator
            } catch {
                logger.error("rollback after a regression stopped: \(error); tried again next round")
                retryRollbacks = regressions.filter { pair in pair.0.id.map { !rollingBack.contains($0) } ?? true }
            }
        }
        return (committed, regressions.count)
    }

    // MARK: The registry's lock

    /// Waits until no other call changes the registry and its records in the store.
    func acquireRegistry() async {
        if registryBusy {
            await withCheckedContinuation { registryWaiters.append($0) }
        } else {
            registryBusy = true
        }
    }

    func releaseRegistry() {
        if registryWaiters.isEmpty { registryBusy = false } else { registryWaiters.removeFirst().resume() }
    }
}

/// Amounts as the journal prints them.
enum DriverActionText {
    static func amounts(_ v: ResourceVector) -> String {
        "cpu \(formatAmount(v.cpu)), memory \(formatAmount(v.memory)) GiB, gpu \(formatAmount(v.gpu))"
    }
}
