import Execution
import Hummingbird

/// The JSON bodies of the HTTP API (see `openapi.json`). Amounts are
/// `{cpu, memory, gpu}` in cores, GiB and whole devices.
public struct Amounts: Codable, Sendable, Equatable {
    public var cpu: Double
    public var memory: Double
    public var gpu: Double
    /// Negative zero (from rounding) is written as 0.
    public init(cpu: Double, memory: Double, gpu: Double) { self.cpu = cpu + 0; self.memory = memory + 0; self.gpu = gpu + 0 }
    public init(_ values: [Double]) { self.init(cpu: values[0], memory: values[1], gpu: values[2]) }
    public var values: [Double] { [cpu, memory, gpu] }
}

public struct NodeBody: Codable, Sendable {
    public var id: String
    public var capacity: Amounts
    public var reserve: Amounts?
}

public struct SLABody: Codable, Sendable {
    public var minimum: Amounts?
    public var maximum: Amounts
    /// Priority: 1 (best effort) ... 10 (critical).
    public var weight: Double?
}

public struct InstanceBody: Codable, Sendable {
    public var id: String
    public var tenant: String
    public var node: String
    public var allocation: Amounts
    public var sla: SLABody
}

public struct InstanceView: Codable, Sendable, ResponseEncodable {
    public var id: String
    public var tenant: String
    public var node: String
    public var allocation: Amounts
    public var sla: SLABody
    public var used: Amounts?
}

public struct InstanceList: Codable, Sendable, ResponseEncodable {
    public var instances: [InstanceView]
}

public struct NodeList: Codable, Sendable, ResponseEncodable {
    public var nodes: [NodeBody]
}

public struct UsageSampleBody: Codable, Sendable {
    public var instance: String
    /// UTC epoch seconds.
    public var time: Int64
    public var cpu: Double
    public var memory: Double
    public var gpu: Double?
    /// Of `cpu`, the cores the quota did not serve (cpu is demand: used plus throttled).
    public var throttled: Double?
    /// Processes the kernel killed for memory in the slot: memory then reads as the limit and
    /// more (the VPA's OOM bump), since usage above the limit is never seen.
    public var oomKills: Int?
}

public struct UsageBatch: Codable, Sendable {
    public var samples: [UsageSampleBody]
}

public struct UsageReceipt: Codable, Sendable, ResponseEncodable {
    public var accepted: Int
    public var rejected: Int
    /// Count of rejected samples per reason.
    public var reasons: [String: Int]
    /// Up to 10 rejected samples: index in the batch and why.
    public var examples: [String]
}

public struct IntervalView: Codable, Sendable, Equatable {
    public var level: Double
    public var lower: Double
    public var upper: Double
}

public struct ResourcePrediction: Codable, Sendable {
    public var point: Double
    public var intervals: [IntervalView]
    public var model: String
    /// Share of this instance's past forecasts at this horizon whose 80/90/95% interval held the value.
    public var coverage: [String: Double]
    public var scored: Int
}

public struct HorizonPrediction: Codable, Sendable {
    public var horizon: String
    public var minutes: Int
    /// UTC epoch seconds of the slot forecast.
    public var target: Int64
    public var cpu: ResourcePrediction
    public var memory: ResourcePrediction
    /// GPU devices in use (a device holding a resident model counts, however idle); absent
    /// for an instance without GPUs.
    public var gpu: ResourcePrediction?
}

public struct PredictionView: Codable, Sendable, ResponseEncodable {
    public var instance: String
    /// The forecaster's models learn online from every sample; this is when they started.
    public var trainedSince: Int64
    public var lastObserved: Int64?
    public var predictions: [HorizonPrediction]
}

public struct PoolView: Codable, Sendable, ResponseEncodable {
    public struct NodeView: Codable, Sendable {
        public var id: String
        public var capacity: Amounts
        public var reserve: Amounts
        public var allocated: Amounts
        public var used: Amounts
        /// Sum of its instances' point forecasts at the planning horizon.
        public var forecast: Amounts
        public var instances: Int
    }
    public var time: Int64?
    public var round: Int
    public var capacity: Amounts
    public var allocated: Amounts
    public var used: Amounts
    /// Sum of the instances' point forecasts at the planning horizon.
    public var forecast: Amounts
    public var nodes: [NodeView]
}

public struct SwapRequestBody: Codable, Sendable {
    public enum Target: String, Codable, Sendable { case costReduction, performance, both }
    public var target: Target?
    /// "5m", "15m" or "30m".
    public var horizon: String?
    public var instances: [String]?
    public var tenant: String?
    public var dryRun: Bool?
    public var maxMigrations: Int?
    public var maxChanges: Int?
    /// Set these instances to these amounts instead of solving (an operator's own swap).
    public var allocations: [String: Amounts]?
    /// Move these instances to these nodes (an operator's migration), with their allocations as
    /// they are or as `allocations` sets them.
    public var nodes: [String: String]?
    /// Run swaps the risk policy would hold or reject for their chance of exceeding the new
    /// allocation (operator). The memory floor and "no forecast, no shrink" still apply.
    public var force: Bool?
}

/// `POST /swaps/{id}/rollback`: which of the plan's swaps to undo (default: all that took effect).
public struct RollbackRequestBody: Codable, Sendable {
    public var instances: [String]?
    public var reason: String?
}

public struct ResourceChange: Codable, Sendable {
    public var resource: String
    public var demand: Double
    public var old: Double
    public var new: Double
    public var saved: Double
    public var limit: String
}

public struct SwapView: Codable, Sendable {
    public var instance: String
    public var tenant: String
    public var fromNode: String
    public var toNode: String
    public var before: Amounts
    public var after: Amounts
    public var changes: [ResourceChange]
    /// Model cost this change saves over the horizon.
    public var benefit: Double
    public var risk: RiskView
    /// Where the swap is: planned (a dry run), held, rejected, verifying, committed, rolledBack, failedSafe.
    public var state: String?
    /// Why it was held, rejected, rolled back or failed safe.
    public var reason: String?
    /// Its record in `/swap_history`, once it has one.
    public var swapID: Int64?
    /// The verification window: the baseline before, each round after, what it measured.
    public var verification: Verification?
}

public struct RiskView: Codable, Sendable {
    /// New allocation minus the forecast's 95% upper bound, per resource (negative: the forecast may not fit).
    public var headroom95: Amounts
    /// Highest interval level whose upper bound the new allocation still covers (0 when none).
    public var coveredLevel: Double
    public var migrates: Bool
    /// The risk assessment: the chance of usage above the new allocation, the memory floor, the
    /// blast radius, the migration's estimate, and the decision with its reasons.
    public var assessment: RiskReport?
}

public struct PlanView: Codable, Sendable, ResponseEncodable {
    public var id: String
    public var status: String
    public var statusURL: String
    public var created: Int64
    public var solver: String
    public var gap: Double?
    public var objectiveBefore: Double
    public var objectiveAfter: Double
    public var swaps: [SwapView]
    public var journal: [String]?
    /// `plan`, or `rollback` for the undoing of an earlier plan's swaps (`rollsBack`).
    public var kind: String?
    public var rollsBack: String?
    /// Why the plan did not run to its end.
    public var failure: String?
}

public struct SwapHistoryView: Codable, Sendable, ResponseEncodable {
    public struct Entry: Codable, Sendable {
        public var id: Int64
        public var plan: String
        public var instance: String
        public var tenant: String
        public var time: Int64
        public var fromNode: String
        public var toNode: String
        public var before: Amounts
        public var after: Amounts
        /// Absent when not a number (a store keeps what it was given; JSON has no NaN).
        public var predictedBenefit: Double?
        public var realisedBenefit: Double?
        public var utilisationBefore: Double?
        public var utilisationAfter: Double?
        public var durationMilliseconds: Double?
        public var outcome: String
        public var reason: String?
        /// Pool time it committed, rolled back or failed safe; the allocation a rollback left.
        public var endedAt: Int64?
        public var restored: Amounts?
        public var risk: RiskReport?
        public var verification: Verification?
    }
    public var swaps: [Entry]
    /// Pass as `cursor` for the next page; absent on the last page.
    public var nextCursor: String?
}

public struct HealthView: Codable, Sendable, ResponseEncodable {
    public var status: String
}

/// `GET /forecaster`: the networks the forecaster runs, whether a training runs now, and what
/// went wrong with the last load or training.
public struct ForecasterView: Codable, Sendable, ResponseEncodable {
    public var networks: [NetworkStatus]
    public var training: Bool
    public var problems: [String]
    /// Slots the forecaster has taken (the warm start's included) and the series it forecasts.
    public var slotsObserved: Int
    public var series: Int
    /// The last champion-and-challenger decision per resource since start.
    public var challenges: [NetworkChallenge]
}
