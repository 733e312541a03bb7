import PoolCore

/// Where an execution takes one instance.
public struct ExecutionTarget: Sendable, Equatable {
    public var instance: InstanceID
    public var allocation: ResourceVector
    public var node: NodeID
    /// The swap it belongs to (an index the caller chose), and where it goes if a step fails
    /// in continue mode.
    public var swap: Int?
    public var safe: ResourceVector?

    public init(instance: InstanceID, allocation: ResourceVector, node: NodeID, swap: Int?, safe: ResourceVector? = nil) {
        self.instance = instance
        self.allocation = allocation
        self.node = node
        self.swap = swap
        self.safe = safe
    }
}

public enum ExecutionOrder {
    /// Steps that take every target's instance to its allocation and node, ordered so that
    /// the ledger stays valid after each (shrinks, then migrations, then grows, as the ledger
    /// orders them), each with the state it starts from.
    public static func steps(_ targets: [ExecutionTarget], in ledger: AllocationLedger) throws(LedgerError) -> [PlanRun.Step] {
        var plan: [PlanStep] = []
        var byInstance: [InstanceID: ExecutionTarget] = [:]
        for target in targets {
            byInstance[target.instance] = target
            let instance = try ledger.instance(target.instance)
            if instance.allocation != target.allocation { plan.append(.resize(target.instance, to: target.allocation)) }
            if instance.node != target.node { plan.append(.migrate(target.instance, to: target.node)) }
        }
        let ordered = try ledger.ordered(SwapPlan(plan))
        var working = ledger
        var steps: [PlanRun.Step] = []
        for step in ordered.steps {
            let before = try working.instance(step.instance)
            let action: DriverAction = switch step {
            case .resize(let id, let to): .resize(id, from: before.allocation, to: to)
            case .migrate(let id, let to): .migrate(id, from: before.node, to: to)
            }
            try working.apply(step)
            let target = byInstance[step.instance]
            steps.append(PlanRun.Step(action: action, swap: target?.swap, safe: target?.safe))
        }
        return steps
    }
}
