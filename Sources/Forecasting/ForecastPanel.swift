import PoolCore

/// The series a backtest forecasts, on one grid: per member (an instance, a container), one
/// series per target (cpu and memory, GPU utilisation and GPU memory, ...), each with its
/// allocation when known. A member's targets are each other's partners in the network's inputs.
public struct ForecastPanel: Sendable {
    public struct Member: Sendable {
        public var id: String
        /// The grid slot of each array's first value.
        public var firstSlot: Int
        /// Per target, the values from `firstSlot` on (NaN where missing).
        public var values: [[Double]]
        /// Per target, the allocation from `firstSlot` on; nil when unknown.
        public var allocation: [[Double]]?

        public init(id: String, firstSlot: Int = 0, values: [[Double]], allocation: [[Double]]? = nil) {
            self.id = id
            self.firstSlot = firstSlot
            self.values = values
            self.allocation = allocation
        }

        /// The value of target `target` at grid slot `slot`; NaN outside the member's span.
        @inline(__always) public func value(_ target: Int, at slot: Int) -> Double {
            let offset = slot - firstSlot
            let series = values[target]
            return offset >= 0 && offset < series.count ? series[offset] : .nan
        }

        @inline(__always) public func allocation(_ target: Int, at slot: Int) -> Double {
            guard let allocation else { return .nan }
            let offset = slot - firstSlot
            return offset >= 0 && offset < allocation[target].count ? allocation[target][offset] : .nan
        }
    }

    /// Epoch seconds of slot 0, and seconds per slot.
    public var origin: Int64
    public var interval: Int
    public var slotCount: Int
    /// The targets' names, as a forecast file writes them.
    public var targets: [String]
    public var members: [Member]

    public init(origin: Int64, interval: Int, slotCount: Int, targets: [String], members: [Member]) {
        precondition(members.allSatisfy { $0.values.count == targets.count }, "one series per target")
        self.origin = origin
        self.interval = interval
        self.slotCount = slotCount
        self.targets = targets
        self.members = members
    }

    /// The usage of `resources` of every instance of `trace`, with their allocations.
    public init(_ trace: UsageTrace, resources: [Resource]) {
        self.init(origin: trace.origin, interval: trace.interval, slotCount: trace.slotCount, targets: resources.map { "\($0)" },
                  members: trace.instances.map { instance in
                      Member(id: instance.id.rawValue, firstSlot: instance.firstSlot, values: resources.map { instance.used[$0.rawValue] },
                             allocation: resources.map { instance.allocated[$0.rawValue] })
                  })
    }
}
