/// One instance's usage and allocation on its trace's grid of slots.
///
/// Arrays are indexed by `slot - firstSlot`; `used` and `allocated` hold one array per
/// resource (indexed by `Resource.rawValue`). A slot without a sample (a gap, a VM switched
/// off) holds NaN in every array.
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
    public var sampleCount: Int { used[0].reduce(0) { $0 + ($1.isNaN ? 0 : 1) } }

    public func isPresent(at slot: Int) -> Bool {
        let offset = slot - firstSlot
        return offset >= 0 && offset < span && !used[0][offset].isNaN
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

    /// The componentwise maximum of usage and allocation over every sample.
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
}
