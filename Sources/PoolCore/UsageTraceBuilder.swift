/// Puts time-ordered samples of each instance onto a common grid of slots.
///
/// Slots lie on the absolute grid of `interval` seconds since the epoch (PSF-1, rule 4): a
/// sample at `t` belongs to the slot starting at `floor(t / interval) * interval`, and slot 0
/// is the one holding the earliest sample of all instances. When two samples of an instance
/// fall into one slot (jitter of a second or two, extra samples between the regular ones)
/// the earlier is kept and the other counted in `mergedSamples`; a sampling clock drifting
/// across a slot boundary leaves one empty slot.
public struct UsageTraceBuilder: Sendable {
    public struct Sample: Sendable {
        public var timestamp: Int64
        public var used: ResourceVector
        public var allocated: ResourceVector
        public init(timestamp: Int64, used: ResourceVector, allocated: ResourceVector) {
            self.timestamp = timestamp
            self.used = used
            self.allocated = allocated
        }
    }

    public let interval: Int
    private var samples: [(id: InstanceID, samples: [Sample])] = []

    public init(interval: Int) {
        precondition(interval > 0, "interval must be positive")
        self.interval = interval
    }

    /// Adds one instance's samples, which must be in non-decreasing timestamp order.
    public mutating func add(_ id: InstanceID, samples: [Sample]) {
        guard !samples.isEmpty else { return }
        self.samples.append((id, samples))
    }

    /// The trace, and the number of samples dropped because their slot already held an
    /// earlier sample of the same instance.
    public func build() -> (trace: UsageTrace, mergedSamples: Int) {
        var merged = 0
        let interval64 = Int64(interval)
        func floorToGrid(_ timestamp: Int64) -> Int64 {
            let remainder = timestamp % interval64
            return timestamp - (remainder < 0 ? remainder + interval64 : remainder)
        }
        let origin = floorToGrid(samples.map { $0.samples[0].timestamp }.min() ?? 0)
        func slot(_ timestamp: Int64) -> Int { Int((floorToGrid(timestamp) - origin) / interval64) }
        var series: [InstanceSeries] = []
        series.reserveCapacity(samples.count)
        for (id, instanceSamples) in samples {
            let first = slot(instanceSamples[0].timestamp)
            let span = slot(instanceSamples[instanceSamples.count - 1].timestamp) - first + 1
            let resources = Resource.allCases.count
            var used = [[Double]](repeating: [Double](repeating: .nan, count: span), count: resources)
            var allocated = used
            var lastFilled = -1
            for sample in instanceSamples {
                let offset = slot(sample.timestamp) - first
                if offset <= lastFilled {
                    merged += 1
                    continue
                }
                lastFilled = offset
                for resource in Resource.allCases {
                    used[resource.rawValue][offset] = sample.used[resource]
                    allocated[resource.rawValue][offset] = sample.allocated[resource]
                }
            }
            series.append(InstanceSeries(id: id, firstSlot: first, used: used, allocated: allocated))
        }
        return (UsageTrace(origin: origin, interval: interval, instances: series), merged)
    }
}
