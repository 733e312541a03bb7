import Drivers
import PoolCore

/// The risk assessment of one swap: its figures and what the policy decided, with why.
public struct RiskReport: Sendable, Equatable, Codable {
    public enum Decision: String, Sendable, Codable { case approve, hold, reject }

    /// Chance that usage exceeds the allocation in some slot of the horizon, before and after.
    public struct Exceedance: Sendable, Equatable, Codable {
        public var resource: String
        public var before: Double
        public var after: Double
    }

    /// What one plan touches.
    public struct BlastRadius: Sendable, Equatable, Codable {
        public var instances: Int
        public var tenants: Int
        public var nodes: Int
    }

    public var decision: Decision
    /// Why, one sentence per gate that spoke; empty for a plain approval.
    public var reasons: [String]
    /// Per resource with a forecast.
    public var exceedance: [Exceedance]
    /// Slots of the horizon the chances are over.
    public var horizonSlots: Int
    /// GiB: the peak working set observed and the floor memory may not go below.
    public var workingSet: Double?
    public var memoryFloor: Double?
    /// The driver's estimate, for a migration.
    public var migration: MigrationEstimate?
    /// The plan's, once the plan is assessed as a whole.
    public var blastRadius: BlastRadius?
    /// When the gates refused some resources' shrinks and the rest of the swap runs: the
    /// allocation that runs (the refused resources kept as they were).
    public var approvedAfter: ResourceVector?

    public init(decision: Decision, reasons: [String], exceedance: [Exceedance], horizonSlots: Int,
                workingSet: Double? = nil, memoryFloor: Double? = nil, migration: MigrationEstimate? = nil, blastRadius: BlastRadius? = nil) {
        self.decision = decision
        self.reasons = reasons
        self.exceedance = exceedance
        self.horizonSlots = horizonSlots
        self.workingSet = workingSet
        self.memoryFloor = memoryFloor
        self.migration = migration
        self.blastRadius = blastRadius
    }

    /// The chance after the swap for `resource`, if forecast.
    public func after(_ resource: String) -> Double? { exceedance.first { $0.resource == resource }?.after }
}
