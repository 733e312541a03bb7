/// The name of a node (a host) in the pool.
public struct NodeID: Hashable, Sendable, Codable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral {
    public var rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public var description: String { rawValue }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A host whose capacity the pool shares out. `reserve` is kept free for the host itself.
public struct Node: Sendable, Hashable, Codable {
    public var id: NodeID
    public var capacity: ResourceVector
    public var reserve: ResourceVector

    public init(id: NodeID, capacity: ResourceVector, reserve: ResourceVector = .zero) {
        self.id = id
        self.capacity = capacity
        self.reserve = reserve
    }

    /// What instances on this node may hold in total: capacity minus reserve.
    public var allocatable: ResourceVector { capacity - reserve }
}
