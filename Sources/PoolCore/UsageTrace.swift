/// One instance's usage and allocation on its trace's grid of slots.
///
/// Arrays are indexed by `slot - firstSlot`; `used` and `allocated` hold one array per
/// resource (indexed by `Resource.rawValue`). A slot without a sample (a gap, a VM switched
/// off) holds NaN in every array; a sample that lacks a value (a resource the source does not
/// measure, a zero capacity) holds NaN in that array only.
public struct InstanceSeries: Sendable {
    public var id: InstanceID
    public var firstSlot: Int
    public var used: [[Double]]
    public var allocated: [[Double]]

    public init(id: InstanceID, firstSlot: Int, used: [[Double]], allocated: [[Double]]) {
        precondition(used.count == Resource.allCases.count && allocated.count == Resource.allCases.count)
        self.id = id
        self.firstSlot = firstSlot
        self.used = used
        self.allocated = allocated
    }

    /// Number of slots from the first sample to the last.
    public var span: Int { used[0].count }
    /// One past the last slot with a sample.
    public var endSlot: Int { firstSlot + span }
    /// Number of slots that hold a sample.
    public var sampleCount: Int { (0..<span).reduce(0) { $0 + (hasSample(offset: $1) ? 1 : 0) } }

    /// Whether `slot` holds a sample: a usage of any resource.
    public func isPresent(at slot: Int) -> Bool {
        let offset = slot - firstSlot
        return offset >= 0 && offset < span && hasSample(offset: offset)
    }

    @inline(__always) func hasSample(offset: Int) -> Bool {
        !used[0][offset].isNaN || !used[1][offset].isNaN || !used[2][offset].isNaN
    }

    /// Usage of `resource` in `slot`; NaN when the slot has no sample or lies outside the series.
    public func used(_ resource: Resource, at slot: Int) -> Double {
        let offset = slot - firstSlot
        return offset >= 0 && offset < span ? used[resource.rawValue][offset] : .nan
    }

    /// Allocation of `resource` in `slot`; NaN when the slot has no sample or lies outside the series.
    public func allocated(_ resource: Resource, at slot: Int) -> Double {
        let offset = slot - firstSlot
        return offset >= 0 && offset < span ? allocated[resource.rawValue][offset] : .nan
    }

    public func used(at slot: Int) -> ResourceVector {
        let offset = slot - firstSlot
        return ResourceVector(cpu: used[0][offset], memory: used[1][offset], gpu: used[2][offset])
    }

    public func allocated(at slot: Int) -> ResourceVector {
        let offset = slot - firstSlot
        return ResourceVector(cpu: allocated[0][offset], memory: allocated[1][offset], gpu: allocated[2][offset])
    }

    /// The componentwise maximum of usage and allocation over every sample (missing values
    /// left out; 0 for a resource with none).
    public var peak: ResourceVector {
        var result = ResourceVector.zero
        for resource in Resource.allCases {
            var high = 0.0
            for value in used[resource.rawValue] where value > high { high = value }
            for value in allocated[resource.rawValue] where value > high { high = value }
            result[resource] = high
        }
        return result
    }
}

/// Usage of many instances on one grid: slot `k` covers the `interval` seconds starting at
/// `origin + k * interval` (epoch seconds, UTC; `origin` is a multiple of `interval`).
public struct UsageTrace: Sendable {
    public var origin: Int64
    public var interval: Int
    public var instances: [InstanceSeries]

    public init(origin: Int64, interval: Int, instances: [InstanceSeries]) {
        self.origin = origin
        self.interval = interval
        self.instances = instances
    }

    /// One past the last slot of any instance.
    public var slotCount: Int { instances.map(\.endSlot).max() ?? 0 }

    /// The first `slots` slots of every instance (instances that start later are dropped).
    public func prefix(slots: Int) -> UsageTrace {
        var cut = self
        cut.instances = instances.compactMap { series in
            let keep = min(series.span, slots - series.firstSlot)
            guard keep > 0 else { return nil }
            var trimmed = series
            trimmed.used = series.used.map { Array($0.prefix(keep)) }
            trimmed.allocated = series.allocated.map { Array($0.prefix(keep)) }
            return trimmed.sampleCount > 0 ? trimmed : nil
        }
        return cut
    }

    /// This trace with every sample that lacks a usage value turned into a gap, for consumers
    /// that need whole samples (the service stores cpu, memory and gpu together).
    public func incompleteSamplesAsGaps() -> UsageTrace {
        var whole = self
        for index in whole.instances.indices {
            let series = instances[index]
            for offset in 0..<series.span where series.hasSample(offset: offset) {
                guard series.used[0][offset].isNaN || series.used[1][offset].isNaN || series.used[2][offset].isNaN else { continue }
                for resource in 0..<series.used.count {
                    whole.instances[index].used[resource][offset] = .nan
                    whole.instances[index].allocated[resource][offset] = .nan
                }
            }
        }
        return whole
    }
}
