/// The name of an instance (a VM, container or GPU job).
public struct InstanceID: Hashable, Sendable, Codable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral {
    public var rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public var description: String { rawValue }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A customer instance: where it runs, what it holds, what it is promised.
public struct Instance: Sendable, Hashable, Codable {
    public var id: InstanceID
    public var node: NodeID
    public var allocation: ResourceVector
    public var sla: SLA

    public init(id: InstanceID, node: NodeID, allocation: ResourceVector, sla: SLA) {
        self.id = id
        self.node = node
        self.allocation = allocation
        self.sla = sla
    }
}
