import PoolCore
import Simulation
import Storage

/// The demo's simulated pool: a real usage trace replayed slot by slot, as if
/// its VMs pushed their samples. The pool is packed from the trace's peaks.
public struct TraceReplay: Sendable {
    public let trace: UsageTrace
    public let nodes: [NodeRecord]
    public let instances: [InstanceRecord]

    public init(trace: UsageTrace) throws {
        self.trace = trace
        let ledger = try PoolShape().buildPool(for: trace)
        nodes = ledger.nodes.map { NodeRecord(id: $0.id.rawValue, capacity: values($0.capacity), reserve: values($0.reserve)) }
        let tenants = ["acme", "globex", "initech"]
        instances = ledger.instances.enumerated().map { k, instance in
            InstanceRecord(id: instance.id.rawValue, tenant: tenants[k % tenants.count], node: instance.node.rawValue,
                           allocation: values(instance.allocation), minimum: values(instance.sla.minimum),
                           maximum: values(instance.sla.maximum), weight: [1, 3, 10][k % 3])
        }
    }

    public var slotCount: Int { trace.slotCount }
    public func time(ofSlot slot: Int) -> Int64 { trace.origin + Int64(slot) * Int64(trace.interval) }

    /// The samples of slot `slot` (wrapping around at the end of the trace), stamped `time`.
    public func samples(slot: Int, time: Int64) -> [UsageSampleBody] {
        let k = slot % max(1, trace.slotCount)
        return trace.instances.compactMap { series in
            guard series.isPresent(at: k) else { return nil }
            let used = series.used(at: k)
            return UsageSampleBody(instance: series.id.rawValue, time: time, cpu: used.cpu, memory: used.memory, gpu: used.gpu)
        }
    }
}
