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

    public init(change: SwapChange, benefit: Double, forecasts: [Resource: ForecastQuantiles], workingSet: Double?,
                gpuInUse: Double? = nil, migration: MigrationEstimate? = nil) {
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
    /// One swap on its own.
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
        func decide(_ decision: RiskReport.Decision, _ reason: String) {
            if decision == .reject || report.decision == .approve { report.decision = decision }
            report.reasons.append(reason)
        }
        let shrunk = change.shrunk
        // 1. No forecast, no shrink.
        for resource in shrunk where resource != .gpu && !(input.forecasts[resource]?.isUsable ?? false) {
            decide(.reject, "no usable \(resource) forecast: no shrink without one")
        }
        // 2. Floors.
        if shrunk.contains(.memory) {
            if let workingSet = input.workingSet, workingSet.isFinite {
                let floor = workingSet * (1 + policy.memoryMarginFraction) + policy.memoryMarginGiB
                report.memoryFloor = floor
                if change.after.memory < floor {
                    decide(.reject, "memory \(formatAmount(change.after.memory)) GiB is below the floor of \(formatAmount(floor)) GiB "
                           + "(working set \(formatAmount(workingSet)) GiB plus margin): it would OOM-kill")
                }
            } else {
                decide(.reject, "no working set observed: memory is not shrunk blind")
            }
        }
        if shrunk.contains(.gpu) {
            if let busy = input.gpuInUse, busy.isFinite {
                if change.after.gpu < busy.rounded(.up) {
                    decide(.reject, "gpu \(formatAmount(change.after.gpu)) is below the \(formatAmount(busy.rounded(.up))) devices in use")
                }
            } else {
                decide(.reject, "gpu use unknown: no gpu shrink without it")
            }
        }
        // 3. Migration cost.
        if change.migrates {
            if let estimate = input.migration {
                if estimate.downtimeMilliseconds > policy.maxDowntimeMilliseconds {
                    decide(.hold, "migration downtime of about \(formatAmount(estimate.downtimeMilliseconds)) ms exceeds \(formatAmount(policy.maxDowntimeMilliseconds)) ms")
                }
                if estimate.seconds > policy.maxMigrationSeconds {
                    decide(.hold, "migration of about \(formatAmount(estimate.seconds)) s exceeds \(formatAmount(policy.maxMigrationSeconds)) s")
                }
            } else {
                decide(.reject, "the driver cannot estimate a migration of \(change.instance) to \(change.toNode)")
            }
        }
        // 4. Chance of usage above the new allocation.
        for figure in exceedance {
            guard let resource = Resource(name: figure.resource), shrunk.contains(resource) else { continue }
            let text = "\(Int((figure.after * 100).rounded()))% chance of \(resource) usage above \(formatAmount(change.after[resource])) \(resource.unit) within \(horizon) slots"
            if figure.after > policy.holdBelow {
                decide(.reject, text + " (more than \(formatAmount(policy.holdBelow * 100))%)")
            } else if figure.after > policy.approveBelow {
                decide(.hold, text + " (more than \(formatAmount(policy.approveBelow * 100))%: an operator decides)")
            }
        }
        return report
    }

    /// Every swap of a plan: each on its own, then the blast-radius gate over the approved ones
    /// by falling benefit. Reports are in the order of `inputs`.
    public static func assess(plan inputs: [RiskInput], policy: RiskPolicy) -> [RiskReport] {
        var reports = inputs.map { assess($0, policy: policy) }
        var instances = Set<InstanceID>(), tenants = Set<String>(), nodes = Set<NodeID>()
        let order = inputs.indices.sorted { inputs[$0].benefit > inputs[$1].benefit }
        for k in order where reports[k].decision == .approve {
            let change = inputs[k].change
            let nextInstances = instances.union([change.instance])
            let nextTenants = tenants.union([change.tenant])
            let nextNodes = nodes.union([change.fromNode, change.toNode])
            if nextInstances.count > policy.maxInstances || nextTenants.count > policy.maxTenants || nextNodes.count > policy.maxNodes {
                reports[k].decision = .hold
                reports[k].reasons.append("blast radius: the plan already touches \(instances.count) instances of \(tenants.count) tenants on "
                                          + "\(nodes.count) nodes (at most \(policy.maxInstances), \(policy.maxTenants), \(policy.maxNodes) without an operator)")
            } else {
                (instances, tenants, nodes) = (nextInstances, nextTenants, nextNodes)
            }
        }
        let radius = RiskReport.BlastRadius(instances: instances.count, tenants: tenants.count, nodes: nodes.count)
        for k in reports.indices { reports[k].blastRadius = radius }
        return reports
    }
}
