import PoolCore

/// Knows each interval's usage before it happens and allocates exactly that: the floor of
/// slack and shortfall that no policy can beat.
public struct OraclePolicy: AllocationPolicy {
    public let name = "oracle"
    private let trace: UsageTrace

    public init(trace: UsageTrace) {
        self.trace = trace
    }

    public func target(instance: Int, slot: Int, current: ResourceVector) -> ResourceVector {
        var used = trace.instances[instance].used(at: slot)
        used.gpu = used.gpu.rounded(.up)
        return used
    }
}
