import PoolCore

/// What one policy did over a whole replay.
public struct SimulationResult: Sendable {
    public var policy: String
    /// The policy's setting when a sweep runs it more than once (e.g. "risk 0.5", "margin 30%").
    public var setting: String?
    /// The policy and its setting, as printed.
    public var name: String { setting.map { "\(policy) \($0)" } ?? policy }
    /// Resources the trace has data for, in order.
    public var resources: [Resource]
    /// Seconds per slot.
    public var interval: Int
    public var firstSlot: Int
    /// Per resource (indexed by `Resource.rawValue`), summed over instances and slots, in
    /// amount-hours (core-hours, GiB-hours, device-hours).
    public var allocatedHours = ResourceVector.zero
    public var usedHours = ResourceVector.zero
    /// Allocated minus used where the allocation was larger.
    public var slackHours = ResourceVector.zero
    /// Used minus allocated where usage was larger: demand that would have been throttled or OOM-killed.
    public var shortfallHours = ResourceVector.zero
    /// Instance-intervals with a shortfall in any resource.
    public var shortfallIntervals = 0
    /// Instance-intervals with a shortfall, per resource (indexed by `Resource.rawValue`).
    public var shortfallIntervalsByResource: [Int] = Array(repeating: 0, count: Resource.allCases.count)
    /// Instance-intervals with a sample.
    public var instanceIntervals = 0
    public var resizes = 0
    public var migrations = 0
    /// Grows the pool could not grant in full because a node was full.
    public var cappedRequests = 0
    /// Pool capacity (sum over nodes' allocatable).
    public var poolAllocatable = ResourceVector.zero
    /// Core-hours of cpu demand above the allocation (throttled), and instance-intervals whose
    /// memory demand went above the allocation (an OOM kill each). Counted by the reactive
    /// simulated driver for a policy run through it (`measuredByDriver`), else the same rule
    /// applied to the replay: throttled = cpu shortfall, a kill per memory-short interval.
    public var throttledCoreHours = 0.0
    public var oomKills = 0
    public var measuredByDriver = false
    /// For a policy that forecasts with networks: what they were (trained on what, or why not).
    public var networks: String?
    /// The same sums per SLA tier (`SLATier`), indexed by tier (without the per-slot series).
    public var tiers: [SimulationResult] = []
    /// Per slot from `firstSlot`: totals over instances present in the slot, as amounts (not hours).
    public var slackPerSlot: [ResourceVector] = []
    public var shortfallPerSlot: [ResourceVector] = []
    public var allocatedPerSlot: [ResourceVector] = []
    public var usedPerSlot: [ResourceVector] = []

    public init(policy: String, resources: [Resource], interval: Int, firstSlot: Int) {
        self.policy = policy
        self.resources = resources
        self.interval = interval
        self.firstSlot = firstSlot
        tiers = SLATier.allCases.map { SimulationResult(tier: $0, resources: resources, interval: interval, firstSlot: firstSlot) }
    }

    private init(tier: SLATier, resources: [Resource], interval: Int, firstSlot: Int) {
        policy = tier.name
        self.resources = resources
        self.interval = interval
        self.firstSlot = firstSlot
    }

    /// Slack as a share of what was allocated, in percent.
    public func slackPercent(_ resource: Resource) -> Double {
        allocatedHours[resource] > 0 ? 100 * slackHours[resource] / allocatedHours[resource] : 0
    }

    /// Shortfall as a share of what was used (the demand), in percent.
    public func shortfallPercent(_ resource: Resource) -> Double {
        usedHours[resource] > 0 ? 100 * shortfallHours[resource] / usedHours[resource] : 0
    }

    /// Short instance-intervals of `resource` as a share of all instance-intervals, in percent.
    public func shortIntervalPercent(_ resource: Resource) -> Double {
        instanceIntervals > 0 ? 100 * Double(shortfallIntervalsByResource[resource.rawValue]) / Double(instanceIntervals) : 0
    }

    /// Days that instances were present, summed over instances.
    public var instanceDays: Double { Double(instanceIntervals) * Double(interval) / 86_400 }

    /// Resizes and migrations per instance-day.
    public var changesPerInstanceDay: Double {
        instanceDays > 0 ? Double(resizes + migrations) / instanceDays : 0
    }

    /// Mean share of the pool's allocatable capacity that was allocated, in percent, over slots.
    public func meanAllocatedPercent(_ resource: Resource) -> Double {
        meanPercent(allocatedPerSlot, resource)
    }

    /// Mean share of the pool's allocatable capacity that was used, in percent, over slots.
    public func meanUsedPercent(_ resource: Resource) -> Double {
        meanPercent(usedPerSlot, resource)
    }

    private func meanPercent(_ series: [ResourceVector], _ resource: Resource) -> Double {
        guard !series.isEmpty, poolAllocatable[resource] > 0 else { return 0 }
        return 100 * series.reduce(0) { $0 + $1[resource] } / Double(series.count) / poolAllocatable[resource]
    }
}
