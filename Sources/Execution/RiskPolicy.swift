/// How the risk assessment turns its figures into a decision. Every field has a default
/// with its unit and why; the service's configuration holds one of these (`risk`).
///
/// Per swap, in order (the first that applies decides):
/// 1. A shrink of a resource with no usable forecast is rejected (fail closed: no forecast, no shrink).
/// 2. A memory shrink below the observed working set times (1 + `memoryMarginFraction`) plus
///    `memoryMarginGiB` is rejected (that OOM-kills); so is one with no working set observed.
///    A gpu shrink below the devices in use is rejected.
/// 3. A migration the driver cannot estimate is rejected; one whose estimated downtime or
///    duration exceeds `maxDowntimeMilliseconds` or `maxMigrationSeconds` is held.
/// 4. For each shrunk resource, the chance that usage exceeds the new allocation in some slot
///    of the horizon: above `holdBelow` rejected; above `approveWithin` times the chance the
///    instance's SLA tier accepts (one-sided: 10%, 5%, 2.5% for the 80, 90, 95% tiers) held;
///    else approved.
/// Then per plan, over the approved swaps by falling benefit: those that would take the plan
/// past `maxInstances`, `maxTenants` or `maxNodes` touched (the blast radius) are held.
public struct RiskPolicy: Sendable, Equatable, Codable {
    /// A shrink runs on its own when the chance of usage above it is at most this multiple of the
    /// chance the instance's SLA tier accepts. 1: what the tier promises, no more (the solver
    /// plans to the tier's bound, so its shrinks sit at that chance).
    public var approveWithin = 1.0
    /// Up to this chance a shrink waits for an operator (`POST /swaps/{id}/approve`); above it,
    /// it is rejected. 0.25.
    public var holdBelow = 0.25
    /// Memory is never shrunk below the working set times 1 + this fraction... 0.1 (10%).
    public var memoryMarginFraction = 0.1
    /// ... plus this many GiB (64 MiB: a process's allocator slack).
    public var memoryMarginGiB = 0.0625
    /// Rounds of samples whose peak is the observed working set; nil (the default) is a week
    /// at the pool's interval (`workingSetRounds(interval:)`: 2016 at 5 minutes, 10,080 at one).
    /// Memory in real pools spikes to many times its usual level a few times a week; a day's
    /// peak (288 five-minute rounds) OOM-killed three times as often as a VPA in the closed-loop
    /// evaluation, a week's fewer. Beyond 288 rounds the peak is kept per bucket of rounds
    /// (288 values an instance, whatever the window), so it covers up to two buckets more.
    public var workingSetRounds: Int?

    /// The rounds of the working set at `interval` seconds a round.
    public func workingSetRounds(interval: Int) -> Int {
        workingSetRounds ?? max(1, (7 * 86_400 + interval / 2) / interval)
    }
    /// Blast radius: most instances, tenants and nodes one plan touches without an operator.
    public var maxInstances = 200
    public var maxTenants = 20
    public var maxNodes = 50
    /// A migration pausing the instance longer than this (ms), or taking longer than this (s), is held.
    public var maxDowntimeMilliseconds = 500.0
    public var maxMigrationSeconds = 120.0

    public init() {}

    /// Why the policy cannot be used, or nil.
    public var problem: String? {
        let checks: [(String, Double, Bool, String)] = [
            ("approveWithin", approveWithin, approveWithin >= 0 && approveWithin.isFinite, "finite and ≥ 0"),
            ("holdBelow", holdBelow, holdBelow >= 0 && holdBelow <= 1, "in 0...1"),
            ("memoryMarginFraction", memoryMarginFraction, memoryMarginFraction >= 0 && memoryMarginFraction.isFinite, "finite and ≥ 0"),
            ("memoryMarginGiB", memoryMarginGiB, memoryMarginGiB >= 0 && memoryMarginGiB.isFinite, "finite and ≥ 0"),
            ("workingSetRounds", Double(workingSetRounds ?? 1), (workingSetRounds ?? 1) >= 1, "≥ 1"),
            ("maxInstances", Double(maxInstances), maxInstances >= 1, "≥ 1"),
            ("maxTenants", Double(maxTenants), maxTenants >= 1, "≥ 1"),
            ("maxNodes", Double(maxNodes), maxNodes >= 1, "≥ 1"),
            ("maxDowntimeMilliseconds", maxDowntimeMilliseconds, maxDowntimeMilliseconds >= 0, "≥ 0"),
            ("maxMigrationSeconds", maxMigrationSeconds, maxMigrationSeconds >= 0, "≥ 0"),
        ]
        guard let bad = checks.first(where: { !$0.2 }) else { return nil }
        return "risk.\(bad.0) must be \(bad.3), not \(bad.1)"
    }
}

extension RiskPolicy {
    /// Every field optional: a configuration file names only what it changes.
    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func read<T: Decodable>(_ key: CodingKeys, _ keyPath: WritableKeyPath<Self, T>) throws {
            if let value = try c.decodeIfPresent(T.self, forKey: key) { self[keyPath: keyPath] = value }
        }
        try read(.approveWithin, \.approveWithin)
        try read(.holdBelow, \.holdBelow)
        try read(.memoryMarginFraction, \.memoryMarginFraction)
        try read(.memoryMarginGiB, \.memoryMarginGiB)
        try read(.workingSetRounds, \.workingSetRounds)
        try read(.maxInstances, \.maxInstances)
        try read(.maxTenants, \.maxTenants)
        try read(.maxNodes, \.maxNodes)
        try read(.maxDowntimeMilliseconds, \.maxDowntimeMilliseconds)
        try read(.maxMigrationSeconds, \.maxMigrationSeconds)
    }
}
