#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PoolCore
import Synchronization

/// A pool that replays a usage trace and reacts to its allocations: each slot, an instance's
/// demand is the trace's usage, and it is served only up to its allocation. CPU demand above
/// the allocation is throttled (counted in core-seconds); memory demand above it is an OOM
/// kill (counted; the instance restarts, unhealthy for that slot). What it reports is what it
/// served, so a forecaster fed from it sees censored usage, as on a real host.
///
/// Time moves only when `advance(toSlot:time:)` is called; every other call reads or changes
/// the state as of the last slot run. With a `stateFile`, every allocation and node it is
/// given is appended there and read back at the next start, so the simulated hosts keep what
/// they were set to when the control plane is killed, as real hosts do.
public final class SimulatedDriver: InstanceDriver {
    public let name = "simulated"
    public let capabilities = DriverCapabilities(resizes: [.cpu, .memory, .gpu], migrates: true, throttling: true)
    public let trace: UsageTrace
    public let nodes: [Node]
    public let migration: MigrationModel

    /// How long a simulated live migration takes: memory copied over the link, plus a pause.
    public struct MigrationModel: Sendable, Equatable {
        /// Link speed between nodes, Gbit/s.
        public var gigabitsPerSecond: Double
        /// Pause at the end of pre-copy, milliseconds.
        public var downtimeMilliseconds: Double
        public init(gigabitsPerSecond: Double = 10, downtimeMilliseconds: Double = 30) {
            self.gigabitsPerSecond = gigabitsPerSecond
            self.downtimeMilliseconds = downtimeMilliseconds
        }
    }

    private struct State {
        var allocation: [ResourceVector]
        var node: [NodeID]
        var signals: [InstanceSignals]
        var slot: Int?
        /// Hosts that refuse every change to these instances, and why.
        var refusing: [InstanceID: String] = [:]
    }

    private let state: Mutex<State>
    private let indexOf: [InstanceID: Int]
    private let nodeIDs: Set<NodeID>
    private let stateFile: String?

    /// `pool` holds the trace's instances in trace order, where they start and with what.
    public init(trace: UsageTrace, pool: AllocationLedger, migration: MigrationModel = MigrationModel(), stateFile: String? = nil) throws(DriverError) {
        precondition(trace.instances.map(\.id) == pool.instances.map(\.id), "the pool must hold the trace's instances in trace order")
        self.trace = trace
        self.nodes = pool.nodes
        self.migration = migration
        self.stateFile = stateFile
        indexOf = Dictionary(uniqueKeysWithValues: pool.instances.enumerated().map { ($1.id, $0) })
        nodeIDs = Set(pool.nodes.map(\.id))
        let start = Double(trace.origin)
        var initial = State(allocation: pool.instances.map(\.allocation), node: pool.instances.map(\.node),
                            signals: pool.instances.map { _ in InstanceSignals(time: start, present: false) }, slot: nil)
        if let stateFile {
            if ControlFiles.exists(stateFile) {
                for line in try ControlFiles.read(stateFile).split(separator: "\n") {
                    let fields = line.split(separator: "\t").map(String.init)
                    guard fields.count == 5, let index = indexOf[InstanceID(fields[0])],
                          let cpu = Double(fields[1]), let memory = Double(fields[2]), let gpu = Double(fields[3]),
                          nodeIDs.contains(NodeID(fields[4])) else { continue }   // a line cut short by a kill
                    initial.allocation[index] = ResourceVector(cpu: cpu, memory: memory, gpu: gpu)
                    initial.node[index] = NodeID(fields[4])
                }
            }
            let compacted = initial.allocation.indices.map { Self.line(pool.instances[$0].id, initial.allocation[$0], initial.node[$0]) }.joined()
            try ControlFiles.write(compacted, to: stateFile, create: true)
        }
        state = Mutex(initial)
    }

    private static func line(_ id: InstanceID, _ allocation: ResourceVector, _ node: NodeID) -> String {
        "\(id.rawValue)\t\(allocation.cpu)\t\(allocation.memory)\t\(allocation.gpu)\t\(node.rawValue)\n"
    }

    /// Appends the instance's new state to the state file (a write the kernel keeps if the
    /// process is killed right after).
    private func persist(_ index: Int, _ state: State) throws(DriverError) {
        guard let stateFile else { return }
        try ControlFiles.append(Self.line(trace.instances[index].id, state.allocation[index], state.node[index]), to: stateFile)
    }

    /// Makes the simulated host of `id` refuse every change with `reason` (as a host that
    /// stopped answering does), or accept them again with nil: how failures are simulated.
    public func refuseChanges(of id: InstanceID, _ reason: String?) {
        state.withLock { $0.refusing[id] = reason }
    }

    /// The slot last run, nil before the first.
    public var slot: Int? { state.withLock { $0.slot } }

    /// Runs slot `slot` of the trace (wrapping around at its end) at the allocations in effect,
    /// its counters read at `time` (pool seconds at the slot's end).
    public func advance(toSlot slot: Int, time: Int64) {
        let seconds = Double(trace.interval)
        let count = max(1, trace.slotCount)
        let k = ((slot % count) + count) % count
        state.withLock { state in
            for (index, series) in trace.instances.enumerated() {
                var signals = state.signals[index]
                signals.time = Double(time)
                signals.present = series.isPresent(at: k)
                signals.healthy = true
                if signals.present {
                    let demand = series.used(at: k)
                    let allocation = state.allocation[index]
                    let served = ResourceVector.minimum(demand, allocation)
                    signals.cpuSeconds += served.cpu * seconds
                    if demand.cpu > allocation.cpu {
                        signals.throttledSeconds += (demand.cpu - allocation.cpu) * seconds
                        signals.throttledPeriods += Int((seconds * 10).rounded())
                    }
                    signals.gpu = served.gpu
                    if demand.memory > allocation.memory * (1 + 1e-12) {
                        // The kernel kills the instance at its limit; it restarts within the slot.
                        signals.oomKills += 1
                        signals.memoryFailures += 1
                        signals.healthy = false
                    }
                    signals.memory = served.memory
                    signals.workingSet = served.memory
                } else {
                    signals.gpu = 0
                }
                state.signals[index] = signals
            }
            state.slot = slot
        }
    }

    public func inventory() async throws(DriverError) -> DriverInventory {
        state.withLock { state in
            DriverInventory(nodes: nodes, instances: trace.instances.indices.map {
                DiscoveredInstance(id: trace.instances[$0].id, node: state.node[$0], allocation: state.allocation[$0])
            })
        }
    }

    public func apply(_ allocation: ResourceVector, to id: InstanceID) async throws(DriverError) {
        guard let index = indexOf[id] else { throw .unknownInstance(id) }
        guard allocation.isFinite, allocation.cpu >= 0, allocation.memory >= 0, allocation.gpu >= 0 else {
            throw .refused(id, "allocation \(allocation) is not a finite amount of at least 0")
        }
        try state.withLock { (state) throws(DriverError) in
            if let reason = state.refusing[id] { throw .refused(id, reason) }
            let workingSet = state.signals[index].workingSet
            if allocation.memory < state.allocation[index].memory, allocation.memory < workingSet {
                throw .refused(id, "memory \(formatAmount(allocation.memory)) GiB is below the working set of \(formatAmount(workingSet)) GiB")
            }
            let previous = state.allocation[index]
            state.allocation[index] = allocation
            do throws(DriverError) { try persist(index, state) } catch {
                state.allocation[index] = previous
                throw error
            }
        }
    }

    public func allocation(of id: InstanceID) async throws(DriverError) -> ResourceVector {
        guard let index = indexOf[id] else { throw .unknownInstance(id) }
        return state.withLock { $0.allocation[index] }
    }

    public func signals(of ids: [InstanceID]) async throws(DriverError) -> [InstanceID: InstanceSignals] {
        state.withLock { state in
            var out: [InstanceID: InstanceSignals] = [:]
            out.reserveCapacity(ids.count)
            for id in ids { if let index = indexOf[id] { out[id] = state.signals[index] } }
            return out
        }
    }

    public func migrationEstimate(of id: InstanceID, to node: NodeID) async -> MigrationEstimate? {
        await migrationEstimates(of: id, to: [node])[0]
    }

    /// The same estimate for every node of the pool: one link speed throughout.
    public func migrationEstimates(of id: InstanceID, to nodes: [NodeID]) async -> [MigrationEstimate?] {
        guard let index = indexOf[id] else { return Array(repeating: nil, count: nodes.count) }
        let memory = state.withLock { $0.allocation[index].memory }
        let copy = memory * 8 * 1.073741824 / migration.gigabitsPerSecond
        let estimate = MigrationEstimate(seconds: copy + migration.downtimeMilliseconds / 1000, downtimeMilliseconds: migration.downtimeMilliseconds,
                                         transferred: memory)
        return nodes.map { nodeIDs.contains($0) ? estimate : nil }
    }

    public func migrate(_ id: InstanceID, to node: NodeID) async throws(DriverError) {
        guard let index = indexOf[id] else { throw .unknownInstance(id) }
        guard nodeIDs.contains(node) else { throw .refused(id, "no node \(node) in the simulated pool") }
        try state.withLock { (state) throws(DriverError) in
            if let reason = state.refusing[id] { throw .refused(id, reason) }
            let previous = state.node[index]
            state.node[index] = node
            do throws(DriverError) { try persist(index, state) } catch {
                state.node[index] = previous
                throw error
            }
        }
    }
}
