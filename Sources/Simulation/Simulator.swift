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

    public func run<Policy: AllocationPolicy>(_ policy: Policy) -> SimulationResult {
        var policy = policy
        var ledger = pool
        let instances = trace.instances
        let firstSlot = instances.map(\.firstSlot).min() ?? 0
        let endSlot = trace.slotCount
        let hoursPerSlot = Double(trace.interval) / 3_600
        var result = SimulationResult(policy: policy.name, resources: resources, interval: trace.interval, firstSlot: firstSlot)
        result.poolAllocatable = pool.nodes.reduce(.zero) { $0 + $1.allocatable }
        let slotCount = max(0, endSlot - firstSlot)
        result.slackPerSlot.reserveCapacity(slotCount)
        result.shortfallPerSlot.reserveCapacity(slotCount)
        result.allocatedPerSlot.reserveCapacity(slotCount)
        result.usedPerSlot.reserveCapacity(slotCount)

        var targets = ledger.instances.map(\.allocation)
        var present = [Bool](repeating: false, count: instances.count)
        var steps: [PlanStep] = []
        for slot in firstSlot..<endSlot {
            // 1. Decide.
            steps.removeAll(keepingCapacity: true)
            for index in instances.indices {
                present[index] = instances[index].isPresent(at: slot)
                let current = ledger.instances[index].allocation
                guard present[index] else {
                    targets[index] = current
                    continue
                }
                var target = ledger.instances[index].sla.clamp(policy.target(instance: index, slot: slot, current: current))
                target.gpu = target.gpu.rounded(.up)
                targets[index] = target
            }
            result.cappedRequests += admit(&targets, in: ledger)
            for index in instances.indices where targets[index] != ledger.instances[index].allocation {
                steps.append(.resize(ledger.instances[index].id, to: targets[index]))
            }
            // 2. Apply, in an order that keeps every node within capacity at every step.
            if !steps.isEmpty {
                do {
                    try ledger.applyInValidOrder(SwapPlan(steps))
                    result.resizes += steps.count
                } catch {
                    preconditionFailure("an admitted plan was refused: \(error)")
                }
            }
            // 3. Account.
            var slack = ResourceVector.zero
            var shortfall = ResourceVector.zero
            var allocated = ResourceVector.zero
            var used = ResourceVector.zero
            for index in instances.indices where present[index] {
                let usage = instances[index].used(at: slot)
                let allocation = ledger.instances[index].allocation
                var short = false
                for resource in Resource.allCases {
                    let gap = allocation[resource] - usage[resource]
                    if gap >= 0 {
                        slack[resource] += gap
                    } else {
                        shortfall[resource] -= gap
                        short = true
                    }
                }
                if short { result.shortfallIntervals += 1 }
                allocated += allocation
                used += usage
                result.instanceIntervals += 1
                policy.observe(instance: index, slot: slot, used: usage)
            }
            result.slackHours += slack * hoursPerSlot
            result.shortfallHours += shortfall * hoursPerSlot
            result.allocatedHours += allocated * hoursPerSlot
            result.usedHours += used * hoursPerSlot
            result.slackPerSlot.append(slack)
            result.shortfallPerSlot.append(shortfall)
            result.allocatedPerSlot.append(allocated)
            result.usedPerSlot.append(used)
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
