import PoolCore

/// Decides every instance's allocation for the coming interval. A new policy is one new type.
///
/// The simulator calls, for each slot in order: `target` for every instance present in the
/// slot, then `observe` with what each one used. A policy that is not an oracle must not
/// read the trace at or after the slot it is deciding for.
public protocol AllocationPolicy: Sendable {
    /// The name used on the command line and in reports.
    var name: String { get }
    /// The allocation `instance` (an index into the trace) should hold during `slot`.
    /// The simulator clamps it to the SLA and to node capacity.
    mutating func target(instance: Int, slot: Int, current: ResourceVector) -> ResourceVector
    /// What `instance` used during `slot`, told after the slot.
    mutating func observe(instance: Int, slot: Int, used: ResourceVector)
}

extension AllocationPolicy {
    public mutating func observe(instance: Int, slot: Int, used: ResourceVector) {}
}
