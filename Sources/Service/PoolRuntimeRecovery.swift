import Drivers
import Execution
import PoolCore
import Storage

/// Recovery at start: every execution a stop interrupted (a plan applying or reversing, a
/// rollback) is read back from the journal, the driver's actual state of what it touched is
/// taken into the ledger, and it is brought to an end: a plan is reversed (its forecasts are
/// stale), a rollback completed. Then every instance on the driver is set to what the ledger
/// holds.
extension PoolRuntime {
    func recover(at time: Int64) async throws {
        for plan in try await store.plans(status: .executing) {
            try await recover(plan)
        }
        try await reconcile()
    }

    /// Whether the driver's `actual` allocation is the ledger's `held` one, to the driver's
    /// precision (a CFS quota is whole microseconds of a 100 ms period, at least 1 ms; memory
    /// limits are whole pages).
    static func matches(_ actual: ResourceVector, _ held: ResourceVector) -> Bool {
        let cpu = abs(actual.cpu - held.cpu) <= 1.5e-5 + 1e-9 * held.cpu || (held.cpu < 0.01 && abs(actual.cpu - 0.01) <= 1.5e-5)
        let memory = abs(actual.memory - held.memory) <= 4_096.0 / 1_073_741_824 + 1e-12
        return cpu && memory && abs(actual.gpu - held.gpu) < 1e-9
    }

    /// Ends run `id` that an error stopped half-way, now, as a restart would: a plan reversed,
    /// a rollback completed. If that fails too the run stays `executing` for the next start.
    func recoverNow(_ id: String) async {
        do {
            guard let plan = try await store.plan(id: id), plan.status == .executing else { return }
            try await recover(plan)
        } catch {
            logger.error("run \(id) stopped by an error and could not be ended now: \(error); the next start ends it")
        }
    }

    private func recover(_ plan: PlanRecord) async throws {
        let view = SwapRecords.value(PlanView.self, plan.answer)
        let journal = try await store.journal(plan: plan.id)
        // An intent is closed by the next outcome of its step (an approval's run numbers its
        // steps from 0 again).
        var open: [Int: JournalEntry] = [:]
        for entry in journal {
            if entry.phase == "intent" { open[entry.step] = entry }
            else if ["done", "failed", "refused", "recovered"].contains(entry.phase) { open[entry.step] = nil }
        }
        let inFlight = open.values.sorted { $0.step < $1.step }
        var acted = Set<String>()
        var moved = false
        for entry in journal {
            guard let action = SwapRecords.value(DriverAction.self, entry.action) else { continue }
            acted.insert(action.instance.rawValue)
            if case .migrate = action { moved = true }
        }
        let touched = acted.union(view?.kind == "rollback" ? view?.swaps.map(\.instance) ?? [] : [])
        // The ledger takes what the driver reads of everything the run touched.
        let nodes = moved ? Dictionary((try? await driver.inventory())?.instances.map { ($0.id, $0.node) } ?? [], uniquingKeysWith: { a, _ in a }) : [:]
        var readings: [String: String] = [:]
        await acquireRegistry()
        for id in touched.sorted() where registry.records[id] != nil {
            let instance = InstanceID(id)
            let actual = try? await driver.allocation(of: instance)
            guard let actual, actual.isFinite else { continue }
            readings[id] = DriverActionText.amounts(actual)
            if let record = try? registry.adopt(instance, allocation: actual, node: nodes[instance]) {
                try? await store.upsert(instance: record)
            }
        }
        releaseRegistry()
        for entry in inFlight {
            let instance = SwapRecords.value(DriverAction.self, entry.action)?.instance.rawValue ?? ""
            try await store.append(journal: JournalEntry(plan: plan.id, step: entry.step, phase: "recovered",
                                                         detail: "in flight when the service stopped; the driver reads \(readings[instance] ?? "nothing")",
                                                         time: poolTime, action: entry.action))
        }

        let rollback = view?.kind == "rollback"
        let note = rollback ? "the service stopped during this rollback; completed at restart"
                 : view?.kind == "reconcile" ? "the service stopped during this reconciliation; done again at restart"
                 : "the service stopped while this plan was applying; undone at restart"
        let records = try await store.swapHistory(SwapHistoryQuery(plan: plan.id, limit: 100_000))
        var lifecycles: [SwapLifecycle] = [], stored: [SwapRecord?] = [], benefits: [Double] = [], targets: [ExecutionTarget] = []
        for swap in view?.swaps ?? [] {
            var lifecycle: SwapLifecycle
            var record: SwapRecord?
            if rollback {
                guard let id = swap.swapID, let original = try await store.swapHistory(SwapHistoryQuery(instance: swap.instance, limit: 100_000)).first(where: { $0.id == id }),
                      original.outcome == .verifying || original.outcome == .committed else { continue }
                if let watchedID = original.id { monitor.stopWatching(watchedID) }
                lifecycle = SwapRecords.lifecycle(original)
                _ = try lifecycle.rollBack(swap.reason ?? note)
                record = original
            } else {
                // Only a swap the journal shows an action of was touched: the others (held,
                // refused, not reached) are as they were.
                guard acted.contains(swap.instance) else { continue }
                record = records.first { $0.instance == swap.instance }
                if let record, record.outcome == .rejected { continue }
                if let record, record.outcome != .held {
                    if let id = record.id { monitor.stopWatching(id) }
                    lifecycle = SwapRecords.lifecycle(record)
                } else {
                    // Not yet recorded as taking effect, or held and approved since.
                    lifecycle = SwapLifecycle(change: PlanFormulation.change(swap), phase: .applying)
                    if let record { held[record.instance] = nil }
                }
            }
            let k = lifecycles.count
            let target = rollback ? vector(swap.after.values) : vector(swap.before.values)
            targets.append(ExecutionTarget(instance: InstanceID(swap.instance), allocation: target,
                                           node: NodeID(rollback ? swap.toNode : swap.fromNode), swap: k,
                                           safe: ResourceVector.maximum(vector(swap.before.values), vector(swap.after.values))))
            lifecycles.append(lifecycle)
            stored.append(record)
            benefits.append(swap.benefit)
        }
        var context = RunContext(kind: .recovery, plan: plan.id, lifecycles: lifecycles, records: stored, benefits: benefits)
        context.note = note
        // Under the plan's own id: a stop during recovery leaves its intents to the next start.
        let runID = plan.id
        runs[runID] = context
        var blocked: String?
        do {
            let steps = try ExecutionOrder.steps(targets, in: registry.ledger)
            _ = try await executor.perform(PlanRun(id: runID, mode: .continueOnFailure, steps: steps))
        } catch let error as LedgerError {
            blocked = "no order of steps keeps the pool within capacity: \(error)"
            try await store.append(journal: JournalEntry(plan: plan.id, step: -1, phase: "recovered", detail: "could not be undone: \(error)", time: poolTime))
        }
        context = runs[runID] ?? context
        runs[runID] = nil
        // Swaps with nothing left to do end as the note says; when nothing could move they stay
        // where the driver has them, for an operator.
        for k in context.lifecycles.indices where !context.lifecycles[k].phase.isFinal {
            let instance = context.lifecycles[k].change.instance.rawValue
            if let blocked, [.applying, .verifying, .rollingBack].contains(context.lifecycles[k].phase) {
                try context.lifecycles[k].failedSafe("at restart: \(blocked)", at: allocation(of: instance))
                measure(&context.lifecycles[k])
                _ = try await save(&context, k)
                continue
            }
            switch context.lifecycles[k].phase {
            case .applying, .verifying: try context.lifecycles[k].reversed(note)
            case .rollingBack: try context.lifecycles[k].rolledBack()
            default: continue
            }
            measure(&context.lifecycles[k])
            _ = try await save(&context, k)
        }
        var ended = plan
        ended.status = rollback ? .executed : .failed
        if var answer = view {
            answer.status = ended.status.rawValue
            answer.failure = rollback ? nil : note
            ended.answer = try Self.text(answer)
        }
        try await store.save(plan: ended)
        try await store.append(journal: JournalEntry(plan: plan.id, step: -1, phase: "recovered", detail: note, time: poolTime))
    }

    /// Every instance the driver holds set to what the ledger holds, where they differ.
    func reconcile() async throws {
        guard driver.name != "none" else { return }
        var steps: [PlanRun.Step] = []
        let nodes = driver.capabilities.migrates ? Dictionary((try? await driver.inventory())?.instances.map { ($0.id, $0.node) } ?? [], uniquingKeysWith: { a, _ in a }) : [:]
        for instance in registry.ledger.instances where !missing.contains(instance.id.rawValue) {
            if let node = nodes[instance.id], node != instance.node {
                steps.append(PlanRun.Step(action: .migrate(instance.id, from: instance.node, to: instance.node), swap: nil))
            }
            guard let actual = try? await driver.allocation(of: instance.id) else { continue }
            if !Self.matches(actual, instance.allocation) {
                steps.append(PlanRun.Step(action: .resize(instance.id, from: instance.allocation, to: instance.allocation), swap: nil))
            }
        }
        guard !steps.isEmpty else { return }
        planSerial += 1
        let runID = "reconcile-\(poolTime)-\(planSerial)"
        let detail = "\(steps.count) instances differed from the ledger on the \(driver.name) driver"
        // A record of its own, executing until done: a stop half-way is ended by the next start.
        var view = PlanView(id: runID, status: "executing", statusURL: "/swaps/\(runID)", created: poolTime, solver: "reconcile", gap: nil,
                            objectiveBefore: 0, objectiveAfter: 0, swaps: [], journal: nil, kind: "reconcile", rollsBack: nil)
        var record = PlanRecord(id: runID, created: poolTime, status: .executing, tenant: nil, request: "{\"reconcile\":true}", answer: try Self.text(view))
        try await store.save(plan: record)
        try await store.append(journal: JournalEntry(plan: runID, step: -1, phase: "reconcile", detail: detail, time: poolTime))
        _ = try await executor.perform(PlanRun(id: runID, mode: .continueOnFailure, steps: steps))
        view.status = PlanRecord.Status.executed.rawValue
        record.status = .executed
        record.answer = try Self.text(view)
        try await store.save(plan: record)
    }
}
