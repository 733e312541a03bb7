import PoolCore

/// What one swap changes on one instance: its allocation, and its node when it migrates.
public struct SwapChange: Sendable, Hashable, Codable {
    public var instance: InstanceID
    public var tenant: String
    public var fromNode: NodeID
    public var toNode: NodeID
    public var before: ResourceVector
    public var after: ResourceVector

    public init(instance: InstanceID, tenant: String, fromNode: NodeID, toNode: NodeID, before: ResourceVector, after: ResourceVector) {
        self.instance = instance
        self.tenant = tenant
        self.fromNode = fromNode
        self.toNode = toNode
        self.before = before
        self.after = after
    }

    public var migrates: Bool { fromNode != toNode }

    /// Resources the swap takes away from the instance.
    public var shrunk: [Resource] { Resource.allCases.filter { after[$0] < before[$0] } }

    /// Neither shrinks nor moves the instance: nothing it does can hurt the instance itself.
    public var isPureGrow: Bool { shrunk.isEmpty && !migrates }

    /// The driver actions that make the change: the resize, then the migration.
    public var actions: [DriverAction] {
        var out: [DriverAction] = []
        if after != before { out.append(.resize(instance, from: before, to: after)) }
        if migrates { out.append(.migrate(instance, from: fromNode, to: toNode)) }
        return out
    }
}
