import PoolCore
import Testing

func vector(_ cpu: Double, _ memory: Double, _ gpu: Double = 0) -> ResourceVector {
    ResourceVector(cpu: cpu, memory: memory, gpu: gpu)
}

func node(_ id: String, _ cpu: Double, _ memory: Double, gpu: Double = 0, reserve: ResourceVector = .zero) -> Node {
    Node(id: NodeID(id), capacity: vector(cpu, memory, gpu), reserve: reserve)
}

func instance(_ id: String, on node: String, _ allocation: ResourceVector, min: ResourceVector = .zero, max: ResourceVector = vector(1000, 1000, 8)) -> Instance {
    Instance(id: InstanceID(id), node: NodeID(node), allocation: allocation, sla: SLA(minimum: min, maximum: max))
}

/// Checks every invariant of `ledger` from scratch, not trusting its running totals.
func expectInvariants(_ ledger: AllocationLedger, sourceLocation: SourceLocation = #_sourceLocation) {
    var totals = [NodeID: ResourceVector]()
    for instance in ledger.instances {
        totals[instance.node, default: .zero] += instance.allocation
        for resource in Resource.allCases {
            #expect(instance.allocation[resource] >= instance.sla.minimum[resource] - 1e-9, "\(instance.id) below minimum", sourceLocation: sourceLocation)
            #expect(instance.allocation[resource] <= instance.sla.maximum[resource] + 1e-9, "\(instance.id) above maximum", sourceLocation: sourceLocation)
        }
        #expect(instance.allocation.gpu == instance.allocation.gpu.rounded(), sourceLocation: sourceLocation)
    }
    for node in ledger.nodes {
        let total = totals[node.id] ?? .zero
        for resource in Resource.allCases {
            #expect(total[resource] <= node.allocatable[resource] + 1e-6, "\(node.id) \(resource) over capacity", sourceLocation: sourceLocation)
        }
    }
}

/// The state (node and allocation of every instance) after applying `plan` without any check.
func unconstrainedFinalState(of plan: SwapPlan, from ledger: AllocationLedger) -> [InstanceID: (NodeID, ResourceVector)] {
    var state = Dictionary(uniqueKeysWithValues: ledger.instances.map { ($0.id, ($0.node, $0.allocation)) })
    for step in plan.steps {
        switch step {
        case .resize(let id, let allocation): state[id]!.1 = allocation
        case .migrate(let id, let node): state[id]!.0 = node
        }
    }
    return state
}

func state(of ledger: AllocationLedger) -> [InstanceID: (NodeID, ResourceVector)] {
    Dictionary(uniqueKeysWithValues: ledger.instances.map { ($0.id, ($0.node, $0.allocation)) })
}

func sameState(_ a: [InstanceID: (NodeID, ResourceVector)], _ b: [InstanceID: (NodeID, ResourceVector)]) -> Bool {
    a.count == b.count && a.allSatisfy { id, value in
        guard let other = b[id] else { return false }
        return value.0 == other.0 && value.1 == other.1
    }
}
