import PoolCore

/// Replays a trace through a pool: each slot, a policy sets every present instance's
/// allocation through the ledger (so no node is ever over capacity, even half-way), then the
/// slot's real usage is accounted against it.
public struct Simulator: Sendable {
    public let trace: UsageTrace
    public let pool: AllocationLedger

    public init(trace: UsageTrace, pool: AllocationLedger) {
        precondition(trace.instances.map(\.id) == pool.instances.map(\.id), "the pool must hold the trace's instances in trace order")
        self.trace = trace
        self.pool = pool
    }

    /// Resources with any usage or allocation in the trace.
    public var resources: [Resource] {
        Resource.allCases.filter { resource in
            trace.instances.contains { series in
                series.used[resource.rawValue].contains { $0 > 0 } || series.allocated[resource.rawValue].contains { $0 > 0 }
            }
        }
    }

    /// Each instance's tier, from its SLA weight.
    public var tiers: [SLATier] { pool.instances.map { SLATier(weight: $0.sla.weight) } }

    /// The slots of the trace, or of `window` within it: accounting covers these, and a
    /// policy decides and observes every slot before them too, as history.
    public func slots(window: Range<Int>?) -> (first: Int, accountFrom: Int, end: Int) {
        let first = trace.instances.map(\.firstSlot).min() ?? 0
        let end = min(trace.slotCount, window?.upperBound ?? trace.slotCount)
        return (first, min(end, max(first, window?.lowerBound ?? first)), end)
    }

    /// Replays the trace under `policy`, accounting the slots of `window` (all, when nil).
    public func run<Policy: AllocationPolicy>(_ policy: Policy, window: Range<Int>? = nil) -> SimulationResult {
        var policy = policy
        var ledger = pool
        let instances = trace.instances
        let (firstSlot, accountFrom, endSlot) = slots(window: window)
        let hoursPerSlot = Double(trace.interval) / 3_600
        let tiers = self.tiers
        var result = SimulationResult(policy: policy.name, resources: resources, interval: trace.interval, firstSlot: accountFrom)
        result.poolAllocatable = pool.nodes.reduce(.zero) { $0 + $1.allocatable }
        let slotCount = max(0, endSlot - accountFrom)
        result.slackPerSlot.reserveCapacity(slotCount)
        result.shortfallPerSlot.reserveCapacity(slotCount)
        result.allocatedPerSlot.reserveCapacity(slotCount)
        result.usedPerSlot.reserveCapacity(slotCount)

        var targets = ledger.instances.map(\.allocation)
        var present = [Bool](repeating: false, count: instances.count)
        var steps: [PlanStep] = []
        for slot in firstSlot..<endSlot {
            let accounted = slot >= accountFrom
            // 1. Decide.
            steps.removeAll(keepingCapacity: true)
            for index in instances.indices {
                present[index] = instances[index].isPresent(at: slot)
                let current = ledger.instances[index].allocation
                guard present[index] else {
                    targets[index] = current
                    continue
                }
                var wanted = policy.target(instance: index, slot: slot, current: current)
                // A value the policy cannot give (its input missing) keeps the allocation.
                for resource in Resource.allCases where wanted[resource].isNaN { wanted[resource] = current[resource] }
                var target = ledger.instances[index].sla.clamp(wanted)
                target.gpu = target.gpu.rounded(.up)
                targets[index] = target
            }
            let capped = admit(&targets, in: ledger)
            if accounted { result.cappedRequests += capped }
            for index in instances.indices where targets[index] != ledger.instances[index].allocation {
                steps.append(.resize(ledger.instances[index].id, to: targets[index]))
                if accounted { result.tiers[tiers[index].rawValue].resizes += 1 }
            }
            // 2. Apply, in an order that keeps every node within capacity at every step.
            if !steps.isEmpty {
                do {
                    try ledger.applyInValidOrder(SwapPlan(steps))
                    if accounted { result.resizes += steps.count }
                } catch {
                    preconditionFailure("an admitted plan was refused: \(error)")
                }
            }
            // 3. Account (inside the window), and tell the policy what was used.
            if accounted {
                result.account(instances: instances.count, tiers: tiers, hoursPerSlot: hoursPerSlot, present: { present[$0] },
                               usage: { instances[$0].used(at: slot) }, allocation: { ledger.instances[$0].allocation })
            }
            for index in instances.indices where present[index] {
                policy.observe(instance: index, slot: slot, used: instances[index].used(at: slot))
            }
        }
        return result
    }

    /// Scales back grows on any node and resource where the targets together exceed what the
    /// node may hold, in proportion to each grow (whole gpus go to the largest unmet grows).
    /// Returns how many grows were cut.
    func admit(_ targets: inout [ResourceVector], in ledger: AllocationLedger) -> Int {
        var totals = [ResourceVector](repeating: .zero, count: ledger.nodes.count)
        for index in targets.indices { totals[ledger.nodeIndexOfInstance[index]] += targets[index] }
        var capped = 0
        for (nodeIndex, node) in ledger.nodes.enumerated() {
            for resource in Resource.allCases where totals[nodeIndex][resource] > node.allocatable[resource] {
                // Growth wanted on this node, and the room there is for it.
                var growth = 0.0
                var fixed = 0.0
                for index in targets.indices where ledger.nodeIndexOfInstance[index] == nodeIndex {
                    let current = ledger.instances[index].allocation[resource]
                    growth += max(0, targets[index][resource] - current)
                    fixed += min(targets[index][resource], current)
                }
                let room = max(0, node.allocatable[resource] - fixed)
                let scale = growth > 0 ? min(1, room / growth) : 1
                var granted = 0.0
                var unmet: [(index: Int, wanted: Double)] = []
                for index in targets.indices where ledger.nodeIndexOfInstance[index] == nodeIndex {
                    let current = ledger.instances[index].allocation[resource]
                    let wanted = targets[index][resource]
                    guard wanted > current else { continue }
                    var grant = current + (wanted - current) * scale
                    if resource == .gpu { grant = grant.rounded(.down) }
                    targets[index][resource] = grant
                    granted += grant - current
                    unmet.append((index, wanted))
                    capped += 1
                }
                if resource == .gpu {
                    var spare = (room - granted + 1e-9).rounded(.down)
                    while spare >= 1, let next = unmet.indices.max(by: {
                        unmet[$0].wanted - targets[unmet[$0].index].gpu < unmet[$1].wanted - targets[unmet[$1].index].gpu
                    }), unmet[next].wanted - targets[unmet[next].index].gpu >= 1 {
                        targets[unmet[next].index].gpu += 1
                        spare -= 1
                    }
                }
            }
        }
        return capped
    }
}
