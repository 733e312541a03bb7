/// The pool's allocations, kept valid at every moment: no node ever holds more than its
/// capacity minus reserve, no instance is ever outside its SLA bounds, gpu counts are whole.
///
/// The ledger is a value: a refused step or plan leaves it exactly as it was.
public struct AllocationLedger: Sendable {
    public private(set) var nodes: [Node]
    public private(set) var instances: [Instance]
    /// Total allocation per node, indexed like `nodes`.
    public private(set) var allocated: [ResourceVector]
    /// Node index of each instance, indexed like `instances`.
    public private(set) var nodeIndexOfInstance: [Int]
    private var nodeIndexByID: [NodeID: Int]
    private var instanceIndexByID: [InstanceID: Int]

    /// Builds a ledger and checks that the given state already satisfies every invariant.
    public init(nodes: [Node], instances: [Instance]) throws(LedgerError) {
        var nodeIndexByID: [NodeID: Int] = [:]
        for (index, node) in nodes.enumerated() {
            for resource in Resource.allCases {
                for (field, value) in [("capacity", node.capacity[resource]), ("reserve", node.reserve[resource])]
                where !(value.isFinite && value >= 0) {
                    throw .invalidNodeAmount(node.id, resource, amount: value, field: field)
                }
            }
            for resource in Resource.allCases where node.reserve[resource] > node.capacity[resource] {
                throw .invalidNodeAmount(node.id, resource, amount: node.reserve[resource], field: "reserve (above the capacity of \(formatAmount(node.capacity[resource])))")
            }
            guard nodeIndexByID.updateValue(index, forKey: node.id) == nil else { throw .duplicateNode(node.id) }
        }
        var instanceIndexByID: [InstanceID: Int] = [:]
        var nodeIndexOfInstance: [Int] = []
        var allocated = [ResourceVector](repeating: .zero, count: nodes.count)
        nodeIndexOfInstance.reserveCapacity(instances.count)
        for (index, instance) in instances.enumerated() {
            guard instanceIndexByID.updateValue(index, forKey: instance.id) == nil else {
                throw .duplicateInstance(instance.id)
            }
            guard let nodeIndex = nodeIndexByID[instance.node] else {
                throw .unknownNode(instance.node, instance: instance.id)
            }
            try Self.checkSLA(instance.sla, of: instance.id)
            try Self.checkBounds(instance.allocation, sla: instance.sla, of: instance.id)
            nodeIndexOfInstance.append(nodeIndex)
            allocated[nodeIndex] += instance.allocation
            try Self.checkCapacity(allocated[nodeIndex], of: nodes[nodeIndex], by: instance.id)
        }
        self.nodes = nodes
        self.instances = instances
        self.allocated = allocated
        self.nodeIndexOfInstance = nodeIndexOfInstance
        self.nodeIndexByID = nodeIndexByID
        self.instanceIndexByID = instanceIndexByID
    }

    public func index(of id: InstanceID) throws(LedgerError) -> Int {
        guard let index = instanceIndexByID[id] else { throw .unknownInstance(id) }
        return index
    }

    public func index(of id: NodeID) throws(LedgerError) -> Int {
        guard let index = nodeIndexByID[id] else { throw .unknownNode(id, instance: nil) }
        return index
    }

    public func instance(_ id: InstanceID) throws(LedgerError) -> Instance {
        instances[try index(of: id)]
    }

    public func allocated(on id: NodeID) throws(LedgerError) -> ResourceVector {
        allocated[try index(of: id)]
    }

    // MARK: Registration

    /// Adds `node`, or replaces the node with its id; refused (and nothing changed) when the
    /// instances on it would no longer fit.
    public mutating func upsert(node: Node) throws(LedgerError) {
        for resource in Resource.allCases {
            for (field, value) in [("capacity", node.capacity[resource]), ("reserve", node.reserve[resource])] where !(value.isFinite && value >= 0) {
                throw .invalidNodeAmount(node.id, resource, amount: value, field: field)
            }
            if node.reserve[resource] > node.capacity[resource] {
                throw .invalidNodeAmount(node.id, resource, amount: node.reserve[resource], field: "reserve (above the capacity of \(formatAmount(node.capacity[resource])))")
            }
        }
        guard let index = nodeIndexByID[node.id] else {
            nodeIndexByID[node.id] = nodes.count
            nodes.append(node)
            allocated.append(.zero)
            return
        }
        if let holder = instances.indices.first(where: { nodeIndexOfInstance[$0] == index }) {
            try Self.checkCapacity(allocated[index], of: node, by: instances[holder].id)
        }
        nodes[index] = node
    }

    /// Adds `instance`, or replaces the instance with its id (allocation, SLA and node); refused
    /// (and nothing changed) when it breaks an invariant.
    public mutating func upsert(instance: Instance) throws(LedgerError) {
        guard let nodeIndex = nodeIndexByID[instance.node] else { throw .unknownNode(instance.node, instance: instance.id) }
        try Self.checkSLA(instance.sla, of: instance.id)
        try Self.checkBounds(instance.allocation, sla: instance.sla, of: instance.id)
        if let index = instanceIndexByID[instance.id] {
            let old = instances[index]
            let oldNode = nodeIndexOfInstance[index]
            var totals = allocated
            totals[oldNode] -= old.allocation
            totals[nodeIndex] += instance.allocation
            try Self.checkCapacity(totals[nodeIndex], of: nodes[nodeIndex], by: instance.id,
                                   growingFrom: nodeIndex == oldNode ? allocated[nodeIndex] : .zero)
            allocated = totals
            instances[index] = instance
            nodeIndexOfInstance[index] = nodeIndex
        } else {
            let total = allocated[nodeIndex] + instance.allocation
            try Self.checkCapacity(total, of: nodes[nodeIndex], by: instance.id, growingFrom: allocated[nodeIndex])
            allocated[nodeIndex] = total
            instanceIndexByID[instance.id] = instances.count
            instances.append(instance)
            nodeIndexOfInstance.append(nodeIndex)
        }
    }

    // MARK: Steps

    /// Sets the allocation of the instance at `index`, or throws and changes nothing.
    public mutating func resize(instanceAt index: Int, to allocation: ResourceVector) throws(LedgerError) {
        let instance = instances[index]
        try Self.checkBounds(allocation, sla: instance.sla, of: instance.id)
        let nodeIndex = nodeIndexOfInstance[index]
        let total = allocated[nodeIndex] - instance.allocation + allocation
        try Self.checkCapacity(total, of: nodes[nodeIndex], by: instance.id, growingFrom: allocated[nodeIndex])
        allocated[nodeIndex] = total
        instances[index].allocation = allocation
    }

    /// Moves the instance at `index`, with its allocation, to the node at `nodeIndex`,
    /// or throws and changes nothing.
    public mutating func migrate(instanceAt index: Int, toNodeAt nodeIndex: Int) throws(LedgerError) {
        let source = nodeIndexOfInstance[index]
        guard source != nodeIndex else { return }
        let allocation = instances[index].allocation
        let total = allocated[nodeIndex] + allocation
        try Self.checkCapacity(total, of: nodes[nodeIndex], by: instances[index].id, growingFrom: allocated[nodeIndex])
        allocated[nodeIndex] = total
        allocated[source] -= allocation
        nodeIndexOfInstance[index] = nodeIndex
        instances[index].node = nodes[nodeIndex].id
    }

    /// Applies one step, or throws and changes nothing.
    public mutating func apply(_ step: PlanStep) throws(LedgerError) {
        switch step {
        case .resize(let id, let allocation):
            try resize(instanceAt: try index(of: id), to: allocation)
        case .migrate(let id, let node):
            try migrate(instanceAt: try index(of: id), toNodeAt: try index(of: node))
        }
    }

    /// Applies every step in order, checking the invariants after each one. If any step is
    /// refused the ledger is left exactly as it was and the error names the step.
    public mutating func apply(_ plan: SwapPlan) throws(LedgerError) {
        var working = self
        for (stepIndex, step) in plan.steps.enumerated() {
            do {
                try working.apply(step)
            } catch {
                throw .inPlan(stepIndex: stepIndex, step: step, reason: error)
            }
        }
        self = working
    }

    // MARK: Invariants

    /// Slack allowed when a node's running total is compared with its capacity: the rounding
    /// of sums of doubles (1e-9 relative, a millionth of a millicore on a 1000-core node).
    static func tolerance(_ limit: Double) -> Double { 1e-9 * max(1, abs(limit)) }

    static func checkSLA(_ sla: SLA, of id: InstanceID) throws(LedgerError) {
        for resource in Resource.allCases {
            let low = sla.minimum[resource]
            let high = sla.maximum[resource]
            guard low.isFinite, low >= 0 else { throw .invalidAmount(id, resource, amount: low, field: "SLA minimum") }
            guard !high.isNaN, high >= 0 else { throw .invalidAmount(id, resource, amount: high, field: "SLA maximum") }
            guard low <= high else { throw .aboveMaximum(id, resource, amount: low, maximum: high) }
        }
        guard sla.weight.isFinite, sla.weight >= 0 else {
            throw .invalidAmount(id, .cpu, amount: sla.weight, field: "SLA weight (applies to all resources)")
        }
    }

    static func checkBounds(_ allocation: ResourceVector, sla: SLA, of id: InstanceID) throws(LedgerError) {
        for resource in Resource.allCases {
            let amount = allocation[resource]
            guard amount.isFinite, amount >= 0 else {
                throw .invalidAmount(id, resource, amount: amount, field: "allocation")
            }
            guard amount >= sla.minimum[resource] else {
                throw .belowMinimum(id, resource, amount: amount, minimum: sla.minimum[resource])
            }
            guard amount <= sla.maximum[resource] else {
                throw .aboveMaximum(id, resource, amount: amount, maximum: sla.maximum[resource])
            }
        }
        guard allocation.gpu == allocation.gpu.rounded() else { throw .fractionalGPU(id, amount: allocation.gpu) }
    }

    /// Throws when `total` exceeds what `node` may hold in a resource that grew from `before`.
    /// A resource that did not grow is never refused: shrinking is always allowed.
    static func checkCapacity(
        _ total: ResourceVector, of node: Node, by id: InstanceID, growingFrom before: ResourceVector = .zero
    ) throws(LedgerError) {
        for resource in Resource.allCases where total[resource] > before[resource] {
            let limit = node.allocatable[resource]
            if total[resource] > limit + tolerance(limit) {
                throw .overCapacity(
                    node.id, resource, allocated: total[resource], allocatable: limit,
                    capacity: node.capacity[resource], reserve: node.reserve[resource], instance: id)
            }
        }
    }
}
