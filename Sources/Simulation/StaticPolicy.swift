import PoolCore

/// The trace's own provisioned allocation: what the platform actually gave each VM.
///
/// Memory readings within `memoryJitter` of the current allocation are taken as the
/// averaging noise of the trace's monitoring (data README, quirk 8), not as resizes.
public struct StaticPolicy: AllocationPolicy {
    public let name = "static"
    public var memoryJitter = 0.05
    private let trace: UsageTrace

    public init(trace: UsageTrace) {
        self.trace = trace
    }

    public func target(instance: Int, slot: Int, current: ResourceVector) -> ResourceVector {
        var provisioned = trace.instances[instance].allocated(at: slot)
        // A slot whose allocation the trace lacks (a zero capacity, a resource it does not
        // measure) keeps the current one.
        for resource in Resource.allCases where provisioned[resource].isNaN { provisioned[resource] = current[resource] }
        if abs(provisioned.memory - current.memory) <= memoryJitter * current.memory {
            provisioned.memory = current.memory
        }
        return provisioned
    }
}
