import Drivers
import PoolCore

/// What the risk assessment of one swap reads: the change, its forecasts over the horizon,
/// the usage observed, and the driver's estimate of a migration.
public struct RiskInput: Sendable {
    public var change: SwapChange
    /// Model benefit the plan expects; the blast-radius gate keeps the largest first.
    public var benefit: Double
    /// Per resource (cpu, memory), the forecast of the horizon's slots; absent when there is none.
    public var forecasts: [Resource: ForecastQuantiles]
    /// Peak working set over the policy's window, GiB; nil when none was observed.
    public var workingSet: Double?
    /// Devices busy now; nil when unknown.
    public var gpuInUse: Double?
    public var migration: MigrationEstimate?
    /// The chance of usage above the allocation the instance's SLA tier accepts (0.05 for a 90% tier).
    public var allowed: Double

    public init(change: SwapChange, benefit: Double, forecasts: [Resource: ForecastQuantiles], workingSet: Double?,
                gpuInUse: Double? = nil, migration: MigrationEstimate? = nil, allowed: Double = 0.05) {
        self.allowed = allowed
        self.change = change
        self.benefit = benefit
        self.forecasts = forecasts
        self.workingSet = workingSet
        self.gpuInUse = gpuInUse
        self.migration = migration
    }
}

/// The risk gates of `RiskPolicy`, on values: no I/O, no clock.
public enum RiskAssessment {
    /// One swap on its own. A resource whose shrink the gates refuse is kept as it is and the
    /// rest of the swap runs (`approvedAfter`); a swap left with nothing to do, or whose
    /// migration a gate refuses, is held or rejected as the gates said.
    public static func assess(_ input: RiskInput, policy: RiskPolicy) -> RiskReport {
        let change = input.change
        var exceedance: [RiskReport.Exceedance] = []
        for resource in [Resource.cpu, .memory] {
            guard let forecast = input.forecasts[resource], forecast.isUsable else { continue }
            exceedance.append(.init(resource: "\(resource)", before: forecast.exceedance(change.before[resource]),
                                    after: forecast.exceedance(change.after[resource])))
        }
        let horizon = input.forecasts.values.map(\.slots.count).max() ?? 0
        var report = RiskReport(decision: .approve, reasons: [], exceedance: exceedance, horizonSlots: horizon,
                                workingSet: input.workingSet, migration: input.migration)
        // What each gate says, for one resource or (nil) for the whole swap.
        var verdicts: [(resource: Resource?, decision: RiskReport.Decision, reason: String)] = []
        func refuse(_ resource: Resource?, _ decision: RiskReport.Decision, _ reason: String) { verdicts.append((resource, decision, reason)) }
        let shrunk = change.shrunk
        // 1. No forecast, no shrink.
        for resource in shrunk where resource != .gpu && !(input.forecasts[resource]?.isUsable ?? false) {
            refuse(resource, .reject, "no usable \(resource) forecast: no shrink without one")
        }
        // 2. Floors.
        if shrunk.contains(.memory) {
            if let workingSet = input.workingSet, workingSet.isFinite {
                let floor = workingSet * (1 + policy.memoryMarginFraction) + policy.memoryMarginGiB
                report.memoryFloor = floor
                if change.after.memory < floor {
                    refuse(.memory, .reject, "memory \(formatAmount(change.after.memory)) GiB is below the floor of \(formatAmount(floor)) GiB "
                           + "(working set \(formatAmount(workingSet)) GiB plus margin): it would OOM-kill")
                }
            } else {
                refuse(.memory, .reject, "no working set observed: memory is not shrunk blind")
            }
        }
        if shrunk.contains(.gpu) {
            if let busy = input.gpuInUse, busy.isFinite {
                if change.after.gpu < busy.rounded(.up) {
                    refuse(.gpu, .reject, "gpu \(formatAmount(change.after.gpu)) is below the \(formatAmount(busy.rounded(.up))) devices in use")
                }
            } else {
                refuse(.gpu, .reject, "gpu use unknown: no gpu shrink without it")
            }
        }
        // 3. Migration cost.
        if change.migrates {
            if let estimate = input.migration {
                if estimate.downtimeMilliseconds > policy.maxDowntimeMilliseconds {
                    refuse(nil, .hold, "migration downtime of about \(formatAmount(estimate.downtimeMilliseconds)) ms exceeds \(formatAmount(policy.maxDowntimeMilliseconds)) ms")
                }
                if estimate.seconds > policy.maxMigrationSeconds {
                    refuse(nil, .hold, "migration of about \(formatAmount(estimate.seconds)) s exceeds \(formatAmount(policy.maxMigrationSeconds)) s")
                }
            } else {
                refuse(nil, .reject, "the driver cannot estimate a migration of \(change.instance) to \(change.toNode)")
            }
        }
        // 4. Chance of usage above the new allocation.
        for figure in exceedance {
            guard let resource = Resource(name: figure.resource), shrunk.contains(resource) else { continue }
            let text = "\(formatAmount((figure.after * 1_000).rounded() / 10))% chance of \(resource) usage above \(formatAmount(change.after[resource])) \(resource.unit) within \(horizon) slots"
            if figure.after > policy.holdBelow {
                refuse(resource, .reject, text + " (more than \(formatAmount(policy.holdBelow * 100))%)")
            } else if figure.after > policy.approveWithin * input.allowed * (1 + 1e-9) + 1e-12 {
                refuse(resource, .hold, text + " (more than the \(formatAmount(policy.approveWithin * input.allowed * 100))% its SLA tier accepts: an operator decides)")
            }
        }
        guard !verdicts.isEmpty else { return report }
        let worst: RiskReport.Decision = verdicts.contains { $0.decision == .reject } ? .reject : .hold
        var trimmed = change.after
        for verdict in verdicts { if let resource = verdict.resource { trimmed[resource] = change.before[resource] } }
        if verdicts.allSatisfy({ $0.resource != nil }), trimmed != change.before || change.migrates {
            report.approvedAfter = trimmed
            report.reasons = verdicts.map { "\($0.resource!) kept at \(formatAmount(change.before[$0.resource!])) \($0.resource!.unit): \($0.reason)" }
        } else {
            report.decision = worst
            report.reasons = verdicts.map(\.reason)
        }
        return report
    }

    /// Every swap of a plan: each on its own, then the blast-radius gate over the approved ones
    /// by falling benefit. Reports are in the order of `inputs`.
    public static func assess(plan inputs: [RiskInput], policy: RiskPolicy) -> [RiskReport] {
        var reports = inputs.map { assess($0, policy: policy) }
        var instances = Set<InstanceID>(), tenants = Set<String>(), nodes = Set<NodeID>()
        let benefits = inputs.map(\.benefit)
        let order = inputs.indices.sorted { benefits[$0] > benefits[$1] }
        for k in order where reports[k].decision == .approve {
            let change = inputs[k].change
            let addsInstance = instances.contains(change.instance) ? 0 : 1
            let addsTenant = tenants.contains(change.tenant) ? 0 : 1
            let addsNodes = (nodes.contains(change.fromNode) ? 0 : 1) + (change.toNode == change.fromNode || nodes.contains(change.toNode) ? 0 : 1)
            if instances.count + addsInstance > policy.maxInstances || tenants.count + addsTenant > policy.maxTenants
                || nodes.count + addsNodes > policy.maxNodes {
                reports[k].decision = .hold
                reports[k].reasons.append("blast radius: the plan already touches \(instances.count) instances of \(tenants.count) tenants on "
                                          + "\(nodes.count) nodes (at most \(policy.maxInstances), \(policy.maxTenants), \(policy.maxNodes) without an operator)")
            } else {
                instances.insert(change.instance)
                tenants.insert(change.tenant)
                nodes.insert(change.fromNode)
                nodes.insert(change.toNode)
            }
        }
        let radius = RiskReport.BlastRadius(instances: instances.count, tenants: tenants.count, nodes: nodes.count)
        for k in reports.indices { reports[k].blastRadius = radius }
        return reports
    }
}
