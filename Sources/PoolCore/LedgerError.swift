/// Why the ledger refused a state or a step. Every message names the instance, node,
/// resource and amounts involved.
public indirect enum LedgerError: Error, Equatable, CustomStringConvertible {
    case duplicateNode(NodeID)
    case duplicateInstance(InstanceID)
    case unknownNode(NodeID, instance: InstanceID?)
    case unknownInstance(InstanceID)
    case invalidAmount(InstanceID, Resource, amount: Double, field: String)
    case invalidNodeAmount(NodeID, Resource, amount: Double, field: String)
    case fractionalGPU(InstanceID, amount: Double)
    case belowMinimum(InstanceID, Resource, amount: Double, minimum: Double)
    case aboveMaximum(InstanceID, Resource, amount: Double, maximum: Double)
    case overCapacity(NodeID, Resource, allocated: Double, allocatable: Double, capacity: Double, reserve: Double, instance: InstanceID)
    case inPlan(stepIndex: Int, step: PlanStep, reason: LedgerError)
    case noValidOrder(String)

    public var description: String {
        switch self {
        case .duplicateNode(let node):
            return "node \(node) is listed twice"
        case .duplicateInstance(let instance):
            return "instance \(instance) is listed twice"
        case .unknownNode(let node, let instance?):
            return "instance \(instance) refers to unknown node \(node)"
        case .unknownNode(let node, nil):
            return "unknown node \(node)"
        case .unknownInstance(let instance):
            return "unknown instance \(instance)"
        case .invalidAmount(let instance, let resource, let amount, let field):
            return "instance \(instance): \(field) \(resource) is \(formatAmount(amount)); it must be a finite amount of at least 0 \(resource.unit)"
        case .invalidNodeAmount(let node, let resource, let amount, let field):
            return "node \(node): \(field) \(resource) is \(formatAmount(amount)); it must be a finite amount of at least 0 \(resource.unit)"
        case .fractionalGPU(let instance, let amount):
            return "instance \(instance): gpu allocation \(formatAmount(amount)) is not a whole number of devices"
        case .belowMinimum(let instance, let resource, let amount, let minimum):
            return "instance \(instance): \(resource) \(formatAmount(amount)) \(resource.unit) is below its SLA minimum of \(formatAmount(minimum)) \(resource.unit)"
        case .aboveMaximum(let instance, let resource, let amount, let maximum):
            return "instance \(instance): \(resource) \(formatAmount(amount)) \(resource.unit) is above its SLA maximum of \(formatAmount(maximum)) \(resource.unit)"
        case .overCapacity(let node, let resource, let allocated, let allocatable, let capacity, let reserve, let instance):
            return "instance \(instance) would put node \(node) over capacity: \(resource) \(formatAmount(allocated)) \(resource.unit) allocated, "
                + "\(formatAmount(allocatable)) allocatable (capacity \(formatAmount(capacity)) minus reserve \(formatAmount(reserve)))"
        case .inPlan(let index, let step, let reason):
            return "step \(index + 1) (\(step)) refused: \(reason)"
        case .noValidOrder(let reason):
            return "no valid order for the plan: \(reason)"
        }
    }
}
