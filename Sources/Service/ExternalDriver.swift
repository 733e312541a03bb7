import Drivers
import PoolCore
import Synchronization

/// The driver of a pool registered through the API (`driver: none`): the platform applies
/// the allocations itself, reading them from `/swaps` and `/instances`. Poolswap records what
/// it decided and verifies from the usage the platform pushes; it reads no counters, so no
/// throttling or OOM kill is seen. This is the boundary where Poolswap controls nothing.
public final class ExternalDriver: InstanceDriver {
    public let name = "none"
    public let capabilities = DriverCapabilities(resizes: [.cpu, .memory, .gpu], migrates: false, throttling: false)
    private let applied = Mutex<[InstanceID: ResourceVector]>([:])

    public init() {}

    public func inventory() async throws(DriverError) -> DriverInventory { DriverInventory(nodes: [], instances: []) }

    public func apply(_ allocation: ResourceVector, to id: InstanceID) async throws(DriverError) {
        applied.withLock { $0[id] = allocation }
    }

    /// What was last applied; an instance never changed here has nothing to read.
    public func allocation(of id: InstanceID) async throws(DriverError) -> ResourceVector {
        guard let allocation = applied.withLock({ $0[id] }) else {
            throw .unavailable("driver none: the platform holds \(id)'s allocation; Poolswap reads none")
        }
        return allocation
    }

    public func signals(of ids: [InstanceID]) async throws(DriverError) -> [InstanceID: InstanceSignals] { [:] }

    /// Nothing is known of what a move costs on the platform: no migrations.
    public func migrationEstimate(of id: InstanceID, to node: NodeID) async -> MigrationEstimate? { nil }

    public func migrate(_ id: InstanceID, to node: NodeID) async throws(DriverError) {
        throw .refused(id, "driver none: Poolswap does not move instances on a platform it does not control")
    }
}
