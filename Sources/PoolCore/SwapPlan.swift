/// One change to the pool: a resize of an instance in place, or a live migration of an
/// instance (with its current allocation) to another node.
public enum PlanStep: Sendable, Hashable, Codable, CustomStringConvertible {
    case resize(InstanceID, to: ResourceVector)
    case migrate(InstanceID, to: NodeID)

    public var instance: InstanceID {
        switch self {
        case .resize(let id, _), .migrate(let id, _): id
        }
    }

    public var description: String {
        switch self {
        case .resize(let id, let allocation): "resize \(id) to \(allocation)"
        case .migrate(let id, let node): "migrate \(id) to \(node)"
        }
    }
}

/// A sequence of steps, applied in order.
public struct SwapPlan: Sendable, Hashable, Codable {
    public var steps: [PlanStep]
    public init(_ steps: [PlanStep] = []) { self.steps = steps }
}
