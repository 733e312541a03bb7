import PoolCore

/// One thing a driver does to one instance. Each carries the state it starts from, so that
/// its inverse is known and a crash half-way can be reconciled with what the driver reads.
public enum DriverAction: Sendable, Hashable, Codable, CustomStringConvertible {
    case resize(InstanceID, from: ResourceVector, to: ResourceVector)
    case migrate(InstanceID, from: NodeID, to: NodeID)

    public var instance: InstanceID {
        switch self {
        case .resize(let id, _, _), .migrate(let id, _, _): id
        }
    }

    /// The action that undoes this one.
    public var inverse: DriverAction {
        switch self {
        case .resize(let id, let from, let to): .resize(id, from: to, to: from)
        case .migrate(let id, let from, let to): .migrate(id, from: to, to: from)
        }
    }

    /// The ledger's step for this action.
    public var step: PlanStep {
        switch self {
        case .resize(let id, _, let to): .resize(id, to: to)
        case .migrate(let id, _, let to): .migrate(id, to: to)
        }
    }

    public var description: String {
        switch self {
        case .resize(let id, let from, let to):
            "resize \(id) from \(Self.amounts(from)) to \(Self.amounts(to))"
        case .migrate(let id, let from, let to):
            "migrate \(id) from \(from) to \(to)"
        }
    }

    static func amounts(_ v: ResourceVector) -> String {
        "cpu \(formatAmount(v.cpu)), memory \(formatAmount(v.memory)) GiB, gpu \(formatAmount(v.gpu))"
    }
}
