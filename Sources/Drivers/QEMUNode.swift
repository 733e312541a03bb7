import PoolCore

/// A node of the QEMU driver: a host, or a network namespace standing for one. Its QEMU
/// processes run inside `namespace` (`ip netns exec`) and take incoming migrations on `address`.
public struct QEMUNode: Sendable, Equatable, Codable {
    public var id: NodeID
    public var capacity: ResourceVector
    public var reserve: ResourceVector
    /// The network namespace its machines run in; nil: the host's own.
    public var namespace: String?
    /// The address other nodes reach it at.
    public var address: String
    /// Bytes a second its link carries (what a migration to or from it can use); nil: unknown,
    /// 1 GiB/s assumed.
    public var bandwidth: Double?

    public init(id: NodeID, capacity: ResourceVector, reserve: ResourceVector = .zero, namespace: String? = nil, address: String = "127.0.0.1",
                bandwidth: Double? = nil) {
        self.id = id
        self.capacity = capacity
        self.reserve = reserve
        self.namespace = namespace
        self.address = address
        self.bandwidth = bandwidth
    }

    var node: Node { Node(id: id, capacity: capacity, reserve: ResourceVector.minimum(reserve, capacity)) }
}
