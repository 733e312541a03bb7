import Drivers
import PoolCore
import Simulation
import Storage

/// The demo's simulated pool: a real usage trace, its VMs packed onto nodes from their peaks,
/// each given a tenant and an SLA tier by a fixed rule (tenants acme, globex, initech in
/// turn, in trace order; the weights `PoolShape` gives, 1, 3, 10 in turn). The `SimulatedDriver` replays it.
public struct TraceReplay: Sendable {
    public let trace: UsageTrace
    public let pool: AllocationLedger
    public let nodes: [NodeRecord]
    public let instances: [InstanceRecord]

    /// A sample that lacks a usage value (a zero capacity in a real trace) is a gap here: the
    /// driver reports, and the service stores, whole samples.
    public init(trace: UsageTrace, pool: AllocationLedger? = nil) throws {
        self.trace = trace.incompleteSamplesAsGaps()
        let pool = try pool ?? PoolShape().buildPool(for: trace)
        self.pool = pool
        nodes = pool.nodes.map { NodeRecord(id: $0.id.rawValue, capacity: values($0.capacity), reserve: values($0.reserve)) }
        let tenants = ["acme", "globex", "initech"]
        instances = pool.instances.enumerated().map { k, instance in
            InstanceRecord(id: instance.id.rawValue, tenant: tenants[k % tenants.count], node: instance.node.rawValue,
                           allocation: values(instance.allocation), minimum: values(instance.sla.minimum),
                           maximum: values(instance.sla.maximum), weight: instance.sla.weight)
        }
    }

    public func time(ofSlot slot: Int) -> Int64 { trace.origin + Int64(slot) * Int64(trace.interval) }

    /// The driver that replays the trace, keeping what it was set to in `stateFile`.
    public func driver(stateFile: String?) throws -> SimulatedDriver {
        try SimulatedDriver(trace: trace, pool: pool, stateFile: stateFile)
    }
}
