/// What the store keeps, as plain values. Times are UTC epoch seconds.

public struct NodeRecord: Sendable, Codable, Equatable {
    public var id: String
    public var capacity: [Double]   // cpu, memory, gpu
    public var reserve: [Double]
    public init(id: String, capacity: [Double], reserve: [Double]) {
        self.id = id; self.capacity = capacity; self.reserve = reserve
    }
}

public struct InstanceRecord: Sendable, Codable, Equatable {
    public var id: String
    public var tenant: String
    public var node: String
    public var allocation: [Double]
    public var minimum: [Double]
    public var maximum: [Double]
    public var weight: Double
    public init(id: String, tenant: String, node: String, allocation: [Double], minimum: [Double], maximum: [Double], weight: Double) {
        self.id = id; self.tenant = tenant; self.node = node; self.allocation = allocation
        self.minimum = minimum; self.maximum = maximum; self.weight = weight
    }
}

public struct UsageSample: Sendable, Codable, Equatable {
    public var instance: String
    public var time: Int64
    public var used: [Double]       // cpu cores, memory GiB, gpu devices
    public init(instance: String, time: Int64, used: [Double]) {
        self.instance = instance; self.time = time; self.used = used
    }
}

public struct PlanRecord: Sendable, Codable, Equatable {
    /// `held`: some of its swaps wait for an operator's approval.
    public enum Status: String, Sendable, Codable { case dryRun, queued, executing, executed, failed, held }
    public var id: String
    public var created: Int64
    public var status: Status
    public var tenant: String?
    /// The request and the answer as JSON text, as the API gave them.
    public var request: String
    public var answer: String
    public init(id: String, created: Int64, status: Status, tenant: String?, request: String, answer: String) {
        self.id = id; self.created = created; self.status = status; self.tenant = tenant
        self.request = request; self.answer = answer
    }
}

public struct SwapRecord: Sendable, Codable, Equatable {
    /// Where the swap is: watched after it took effect (`verifying`), kept (`committed`), undone
    /// (`rolledBack`), refused by the risk gates or the pool (`rejected`), waiting for an
    /// operator (`held`), or left at its safe allocation after a rollback failed (`failedSafe`).
    public enum Outcome: String, Sendable, Codable, CaseIterable { case verifying, committed, rolledBack, rejected, held, failedSafe }
    public var id: Int64?
    public var plan: String
    public var instance: String
    public var tenant: String
    public var time: Int64
    public var fromNode: String
    public var toNode: String
    public var before: [Double]
    public var after: [Double]
    /// Objective the solver expected this change to save.
    public var predictedBenefit: Double
    /// Measured by the driver over the verification window.
    public var realisedBenefit: Double?
    public var utilisationBefore: Double
    public var utilisationAfter: Double?
    public var durationMilliseconds: Double
    public var outcome: Outcome
    /// Why it was held, rejected, rolled back or failed safe.
    public var reason: String?
    /// The risk report and the verification figures, as JSON text.
    public var risk: String?
    public var verification: String?
    /// Pool time it committed, rolled back or failed safe.
    public var endedAt: Int64?
    /// The allocation a rollback or a failed-safe left (cpu, memory, gpu).
    public var restored: [Double]?
    public init(id: Int64? = nil, plan: String, instance: String, tenant: String, time: Int64, fromNode: String, toNode: String,
                before: [Double], after: [Double], predictedBenefit: Double, realisedBenefit: Double? = nil,
                utilisationBefore: Double, utilisationAfter: Double? = nil, durationMilliseconds: Double, outcome: Outcome,
                reason: String? = nil, risk: String? = nil, verification: String? = nil, endedAt: Int64? = nil, restored: [Double]? = nil) {
        self.id = id; self.plan = plan; self.instance = instance; self.tenant = tenant; self.time = time
        self.fromNode = fromNode; self.toNode = toNode; self.before = before; self.after = after
        self.predictedBenefit = predictedBenefit; self.realisedBenefit = realisedBenefit
        self.utilisationBefore = utilisationBefore; self.utilisationAfter = utilisationAfter
        self.durationMilliseconds = durationMilliseconds; self.outcome = outcome
        self.reason = reason; self.risk = risk; self.verification = verification; self.endedAt = endedAt; self.restored = restored
    }

    /// An outcome as stored, with the names of earlier versions (`executed`, `failed`).
    public static func outcome(stored text: String) -> Outcome {
        if let outcome = Outcome(rawValue: text) { return outcome }
        return text == "executed" ? .committed : .failedSafe
    }

    /// True when the swap changed the instance's allocation at `time` (everything but held and rejected).
    public var tookEffect: Bool { outcome != .held && outcome != .rejected }
}

public struct SwapHistoryQuery: Sendable, Equatable {
    public var plan: String?
    public var instance: String?
    public var tenant: String?
    public var from: Int64?
    public var to: Int64?
    public var outcome: SwapRecord.Outcome?
    /// Return swaps with ids below this (newest first); nil for the newest.
    public var before: Int64?
    public var limit: Int
    public init(plan: String? = nil, instance: String? = nil, tenant: String? = nil, from: Int64? = nil, to: Int64? = nil,
                outcome: SwapRecord.Outcome? = nil, before: Int64? = nil, limit: Int = 100) {
        self.plan = plan; self.instance = instance; self.tenant = tenant; self.from = from; self.to = to
        self.outcome = outcome; self.before = before; self.limit = limit
    }
}

public struct JournalEntry: Sendable, Codable, Equatable {
    public var plan: String
    public var step: Int
    /// `intent` before a driver action, `done`, `failed` or `refused` after it; other phases
    /// (`recovered`, `approved`, `rollback`) mark the plan's life.
    public var phase: String
    public var detail: String
    public var time: Int64
    /// The driver action, as JSON, for `intent` and its outcome: what recovery reconciles.
    public var action: String?
    public init(plan: String, step: Int, phase: String, detail: String, time: Int64, action: String? = nil) {
        self.plan = plan; self.step = step; self.phase = phase; self.detail = detail; self.time = time; self.action = action
    }
}

public struct TokenRecord: Sendable, Codable, Equatable {
    public enum Role: String, Sendable, Codable, CaseIterable { case admin, `operator`, reader }
    /// SHA-256 of the token, hex; the token itself is never stored.
    public var hash: String
    public var name: String
    public var role: Role
    /// Set for a token that sees one tenant only.
    public var tenant: String?
    public var created: Int64
    public init(hash: String, name: String, role: Role, tenant: String?, created: Int64) {
        self.hash = hash; self.name = name; self.role = role; self.tenant = tenant; self.created = created
    }
}

/// A saved blob (a trained network) and the pool time it was saved for.
public struct CheckpointRecord: Sendable, Equatable {
    public var data: [UInt8]
    public var time: Int64
    public init(data: [UInt8], time: Int64) { self.data = data; self.time = time }
}
