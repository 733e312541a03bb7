/// What an instance did between two readings of its counters.
///
/// A counter that went down means the instance was recreated (a container replaced, a VM
/// restarted): its new value counts from zero.
public struct SignalDelta: Sendable, Equatable, Codable {
    /// Seconds between the readings.
    public var seconds: Double
    /// Mean cores used.
    public var cpu: Double
    /// Mean cores of demand the quota did not serve.
    public var throttled: Double
    /// Working set at the second reading, GiB.
    public var memory: Double
    public var gpu: Double
    public var memoryFailures: Int
    public var oomKills: Int
    public var memoryPressure: Double?
    public var cpuPressure: Double?
    public var healthy: Bool
    public var present: Bool

    public init(seconds: Double, cpu: Double, throttled: Double, memory: Double, gpu: Double = 0, memoryFailures: Int = 0,
                oomKills: Int = 0, memoryPressure: Double? = nil, cpuPressure: Double? = nil, healthy: Bool = true, present: Bool = true) {
        self.seconds = seconds
        self.cpu = cpu
        self.throttled = throttled
        self.memory = memory
        self.gpu = gpu
        self.memoryFailures = memoryFailures
        self.oomKills = oomKills
        self.memoryPressure = memoryPressure
        self.cpuPressure = cpuPressure
        self.healthy = healthy
        self.present = present
    }

    /// The delta from `earlier` to `later`; nil when no time passed between them.
    public init?(from earlier: InstanceSignals, to later: InstanceSignals) {
        let seconds = later.time - earlier.time
        guard seconds > 0 else { return nil }
        func grown(_ a: Double, _ b: Double) -> Double { b >= a ? b - a : b }
        func grown(_ a: Int, _ b: Int) -> Int { b >= a ? b - a : b }
        self.init(seconds: seconds,
                  cpu: grown(earlier.cpuSeconds, later.cpuSeconds) / seconds,
                  throttled: grown(earlier.throttledSeconds, later.throttledSeconds) / seconds,
                  memory: later.workingSet, gpu: later.gpu,
                  memoryFailures: grown(earlier.memoryFailures, later.memoryFailures),
                  oomKills: grown(earlier.oomKills, later.oomKills),
                  memoryPressure: later.memoryPressure, cpuPressure: later.cpuPressure,
                  healthy: later.healthy, present: later.present)
    }
}
