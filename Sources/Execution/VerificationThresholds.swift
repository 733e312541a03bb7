/// When a swap that took something away counts as a regression, checked every round of the
/// verification window against the rounds before the swap. Units in each field's comment.
public struct VerificationThresholds: Sendable, Equatable, Codable {
    /// Rounds a swap is watched before it commits. 3.
    public var rounds = 3
    /// Rounds before the swap whose mean is the baseline. 3.
    public var baselineRounds = 3
    /// A shrunk cpu regresses when its throttled cores (demand the quota did not serve) rise
    /// above the baseline by more than this many cores... 0.05.
    public var throttledCores = 0.05
    /// ... and by more than this share of the new allocation. 0.1 (10%).
    public var throttledShare = 0.1
    /// A shrunk memory regresses on any OOM kill, or when the limit is hit more than this many
    /// times per round above the baseline (memory.failcnt; page cache hits it too). 1000.
    public var memoryFailures = 1_000
    /// ... or when memory pressure (PSI some avg10, where the kernel has it) rises more than
    /// this many percentage points above the baseline. 10.
    public var memoryPressure = 10.0
    /// A shrunk resource regresses when its usage sits at this share of the new allocation or
    /// more, above the forecast's upper bound, for `saturatedRounds` rounds. 0.98 and 2.
    public var saturation = 0.98
    public var saturatedRounds = 2

    public init() {}

    public var problem: String? {
        let checks: [(String, Double, Bool, String)] = [
            ("rounds", Double(rounds), rounds >= 1, "≥ 1"),
            ("baselineRounds", Double(baselineRounds), baselineRounds >= 1, "≥ 1"),
            ("saturatedRounds", Double(saturatedRounds), saturatedRounds >= 1, "≥ 1"),
            ("throttledCores", throttledCores, throttledCores >= 0, "≥ 0"),
            ("throttledShare", throttledShare, throttledShare >= 0, "≥ 0"),
            ("memoryFailures", Double(memoryFailures), memoryFailures >= 0, "≥ 0"),
            ("memoryPressure", memoryPressure, memoryPressure >= 0, "≥ 0"),
            ("saturation", saturation, saturation > 0, "> 0"),
        ]
        guard let bad = checks.first(where: { !$0.2 }) else { return nil }
        return "verification.\(bad.0) must be \(bad.3), not \(bad.1)"
    }
}

extension VerificationThresholds {
    /// Every field optional: a configuration file names only what it changes.
    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func read<T: Decodable>(_ key: CodingKeys, _ keyPath: WritableKeyPath<Self, T>) throws {
            if let value = try c.decodeIfPresent(T.self, forKey: key) { self[keyPath: keyPath] = value }
        }
        try read(.rounds, \.rounds)
        try read(.baselineRounds, \.baselineRounds)
        try read(.throttledCores, \.throttledCores)
        try read(.throttledShare, \.throttledShare)
        try read(.memoryFailures, \.memoryFailures)
        try read(.memoryPressure, \.memoryPressure)
        try read(.saturation, \.saturation)
        try read(.saturatedRounds, \.saturatedRounds)
    }
}
