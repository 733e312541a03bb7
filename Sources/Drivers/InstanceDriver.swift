import PoolCore

/// What runs instances: finds them, changes their allocation, reads what they use. Every
/// driver passes the same conformance suite (`Tests/DriversTests/DriverConformance.swift`).
///
/// Amounts are the pool's units: cpu in cores, memory in GiB, gpu in whole devices. A
/// resource a driver does not limit reads as `.infinity`.
public protocol InstanceDriver: Sendable {
    /// Short name for logs and errors: `simulated`, `cgroup`, `oci`.
    var name: String { get }
    var capabilities: DriverCapabilities { get }

    /// The nodes the driver runs instances on and the instances it finds there now.
    func inventory() async throws(DriverError) -> DriverInventory

    /// Sets the resources in `capabilities.resizes` to `allocation`; the others must equal what
    /// `allocation(of:)` reads. Refused, it throws and leaves the previous allocation in effect.
    /// A memory limit below the instance's working set is refused: it would OOM-kill.
    func apply(_ allocation: ResourceVector, to id: InstanceID) async throws(DriverError)

    /// The allocation in effect now, read from the instance itself.
    func allocation(of id: InstanceID) async throws(DriverError) -> ResourceVector

    /// Cumulative counters of each instance in `ids` that exists; missing ones are left out.
    func signals(of ids: [InstanceID]) async throws(DriverError) -> [InstanceID: InstanceSignals]

    /// What moving `id` to `node` would cost, or nil when the driver cannot move it there.
    func migrationEstimate(of id: InstanceID, to node: NodeID) async -> MigrationEstimate?

    /// What moving `id` to each of `nodes` would cost, in their order; nil for a node it cannot
    /// move to. One measurement of the instance serves every target (the default asks one by one).
    func migrationEstimates(of id: InstanceID, to nodes: [NodeID]) async -> [MigrationEstimate?]

    /// Moves `id` to `node` while it runs; refused, the instance stays where it was.
    func migrate(_ id: InstanceID, to node: NodeID) async throws(DriverError)
}

extension InstanceDriver {
    public func migrationEstimates(of id: InstanceID, to nodes: [NodeID]) async -> [MigrationEstimate?] {
        var estimates: [MigrationEstimate?] = []
        estimates.reserveCapacity(nodes.count)
        for node in nodes { estimates.append(await migrationEstimate(of: id, to: node)) }
        return estimates
    }
}

/// What a driver can change.
public struct DriverCapabilities: Sendable, Equatable, Codable {
    /// Resources it resizes while the instance runs.
    public var resizes: Set<Resource>
    /// Whether it moves instances between nodes.
    public var migrates: Bool
    /// Whether it reads throttling (CPU demand above the quota), memory failures and OOM kills.
    public var throttling: Bool

    public init(resizes: Set<Resource>, migrates: Bool, throttling: Bool) {
        self.resizes = resizes
        self.migrates = migrates
        self.throttling = throttling
    }
}

/// Nodes and instances as a driver finds them.
public struct DriverInventory: Sendable, Equatable {
    public var nodes: [Node]
    public var instances: [DiscoveredInstance]
    public init(nodes: [Node], instances: [DiscoveredInstance]) {
        self.nodes = nodes
        self.instances = instances
    }
}

public struct DiscoveredInstance: Sendable, Equatable {
    public var id: InstanceID
    public var node: NodeID
    /// In effect now; `.infinity` where the instance is not limited.
    public var allocation: ResourceVector
    public init(id: InstanceID, node: NodeID, allocation: ResourceVector) {
        self.id = id
        self.node = node
        self.allocation = allocation
    }
}

/// Counters read from one instance at one moment. Usage over an interval is the difference of
/// two readings (`SignalDelta`).
public struct InstanceSignals: Sendable, Equatable, Codable {
    /// Seconds on the driver's clock: monotonic for real drivers, pool time for the simulated one.
    public var time: Double
    /// CPU time used so far, core-seconds.
    public var cpuSeconds: Double
    /// Time its tasks waited because the CPU quota ran out, seconds summed over CPUs: the demand
    /// the quota did not serve, in core-seconds.
    public var throttledSeconds: Double
    /// Quota periods in which it was throttled.
    public var throttledPeriods: Int
    /// Memory charged now, GiB, and the part of it that cannot be reclaimed without harm
    /// (usage minus inactive file cache, as cAdvisor counts it).
    public var memory: Double
    public var workingSet: Double
    /// Times usage hit the memory limit (memory.failcnt, memory.events `max`).
    public var memoryFailures: Int
    /// Devices in use now (whole or fractional busy share, summed over devices).
    public var gpu: Double
    /// Processes the kernel killed for memory so far.
    public var oomKills: Int
    /// Share of time some task stalled on memory / cpu over the last 10 s, percent (PSI), where
    /// the kernel reports it.
    public var memoryPressure: Double?
    public var cpuPressure: Double?
    /// The instance runs and answers (processes present, container running, heartbeat fresh).
    public var healthy: Bool
    /// Whether it has work now; a VM switched off (a gap in a trace) is not present, and no
    /// sample is taken of it.
    public var present: Bool

    public init(time: Double, cpuSeconds: Double = 0, throttledSeconds: Double = 0, throttledPeriods: Int = 0,
                memory: Double = 0, workingSet: Double = 0, memoryFailures: Int = 0, gpu: Double = 0, oomKills: Int = 0,
                memoryPressure: Double? = nil, cpuPressure: Double? = nil, healthy: Bool = true, present: Bool = true) {
        self.time = time
        self.cpuSeconds = cpuSeconds
        self.throttledSeconds = throttledSeconds
        self.throttledPeriods = throttledPeriods
        self.memory = memory
        self.workingSet = workingSet
        self.memoryFailures = memoryFailures
        self.gpu = gpu
        self.oomKills = oomKills
        self.memoryPressure = memoryPressure
        self.cpuPressure = cpuPressure
        self.healthy = healthy
        self.present = present
    }
}

/// What a live migration would cost, as the driver estimates it before doing it.
public struct MigrationEstimate: Sendable, Equatable, Codable {
    /// Wall seconds from start to the instance running on the target.
    public var seconds: Double
    /// Milliseconds the instance is paused (stop-and-copy).
    public var downtimeMilliseconds: Double
    /// Memory copied, GiB.
    public var transferred: Double
    public init(seconds: Double, downtimeMilliseconds: Double, transferred: Double) {
        self.seconds = seconds
        self.downtimeMilliseconds = downtimeMilliseconds
        self.transferred = transferred
    }
}
