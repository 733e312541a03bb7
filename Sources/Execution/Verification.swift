import Drivers

/// One round of an instance's signals as the verification reads them.
public struct VerificationRound: Sendable, Equatable, Codable {
    /// Pool time of the round.
    public var time: Int64
    /// Cores and GiB used, cores of demand throttled.
    public var cpu: Double
    public var memory: Double
    public var throttled: Double
    public var memoryFailures: Int
    public var oomKills: Int
    public var memoryPressure: Double?
    public var healthy: Bool
    public var present: Bool
    /// The forecast's upper bound (95%) for this slot, where there was one.
    public var forecastCPU: Double?
    public var forecastMemory: Double?

    public init(time: Int64, delta: SignalDelta, forecastCPU: Double? = nil, forecastMemory: Double? = nil) {
        self.time = time
        cpu = delta.cpu
        memory = delta.memory
        throttled = delta.throttled
        memoryFailures = delta.memoryFailures
        oomKills = delta.oomKills
        memoryPressure = delta.memoryPressure
        healthy = delta.healthy
        present = delta.present
        self.forecastCPU = forecastCPU
        self.forecastMemory = forecastMemory
    }
}

/// The mean of the rounds before a swap: what the rounds after it are compared with.
public struct Baseline: Sendable, Equatable, Codable {
    public var rounds: Int
    public var cpu: Double
    public var memory: Double
    public var throttled: Double
    public var memoryFailures: Double
    public var oomKills: Double
    public var memoryPressure: Double?
    /// Share of the rounds in which the instance was healthy.
    public var healthy: Double

    public init(_ rounds: [VerificationRound]) {
        let present = rounds.filter(\.present)
        let n = Double(max(1, present.count))
        self.rounds = present.count
        cpu = present.reduce(0) { $0 + $1.cpu } / n
        memory = present.reduce(0) { $0 + $1.memory } / n
        throttled = present.reduce(0) { $0 + $1.throttled } / n
        memoryFailures = present.reduce(0) { $0 + Double($1.memoryFailures) } / n
        oomKills = present.reduce(0) { $0 + Double($1.oomKills) } / n
        let pressures = present.compactMap(\.memoryPressure)
        memoryPressure = pressures.isEmpty ? nil : pressures.reduce(0, +) / Double(pressures.count)
        healthy = present.isEmpty ? 1 : Double(present.filter(\.healthy).count) / n
    }
}

/// What the verification has seen of one swap: the baseline and the rounds since.
public struct Verification: Sendable, Equatable, Codable {
    public var baseline: Baseline
    public var rounds: [VerificationRound] = []
    /// Model benefit measured over the rounds (see `RealisedBenefit`), once decided.
    public var realisedBenefit: Double?
    public var utilisationAfter: Double?

    public init(baseline: Baseline) { self.baseline = baseline }

    /// Why round `round` shows `change` hurting its instance, or nil. Only what the swap took
    /// away is checked: a grow cannot starve the instance it grows.
    public static func regression(_ change: SwapChange, round: VerificationRound, baseline: Baseline, earlier: [VerificationRound],
                                  thresholds t: VerificationThresholds) -> String? {
        guard round.present, !change.isPureGrow else { return nil }
        if change.after.memory < change.before.memory, round.oomKills > 0 {
            return "\(round.oomKills) OOM kill\(round.oomKills == 1 ? "" : "s") after the memory shrink to \(figure(change.after.memory)) GiB"
        }
        // An OOM kill of memory the swap did not shrink is not the swap's doing.
        if baseline.healthy >= 0.5, !round.healthy, round.oomKills == 0 {
            return "unhealthy after the swap (healthy in \(Int((baseline.healthy * 100).rounded()))% of the rounds before)"
        }
        if change.after.cpu < change.before.cpu {
            let limit = baseline.throttled + max(t.throttledCores, t.throttledShare * change.after.cpu)
            if round.throttled > limit {
                return "cpu throttled by \(figure(round.throttled)) cores after the shrink to \(figure(change.after.cpu)) (\(figure(baseline.throttled)) before; limit \(figure(limit)))"
            }
        }
        if change.after.memory < change.before.memory {
            if Double(round.memoryFailures) > baseline.memoryFailures + Double(t.memoryFailures) {
                return "memory limit hit \(round.memoryFailures) times in a round after the shrink (\(figure(baseline.memoryFailures)) before)"
            }
            if let pressure = round.memoryPressure, pressure > (baseline.memoryPressure ?? 0) + t.memoryPressure {
                return "memory pressure \(figure(pressure))% after the shrink (\(figure(baseline.memoryPressure ?? 0))% before)"
            }
        }
        for (name, used, allocated, before, forecast) in [
            ("cpu", \VerificationRound.cpu, change.after.cpu, change.before.cpu, \VerificationRound.forecastCPU),
            ("memory", \VerificationRound.memory, change.after.memory, change.before.memory, \VerificationRound.forecastMemory),
        ] where allocated < before {
            func saturated(_ r: VerificationRound) -> Bool {
                r.present && r[keyPath: used] >= t.saturation * allocated && r[keyPath: used] > (r[keyPath: forecast] ?? -.infinity)
            }
            guard saturated(round) else { continue }
            let streak = 1 + earlier.reversed().prefix { saturated($0) }.count
            if streak >= t.saturatedRounds {
                return "\(name) usage at its new limit of \(figure(allocated)) and above the forecast for \(streak) rounds"
            }
        }
        return nil
    }

    static func figure(_ x: Double) -> String {
        let rounded = (x * 1000).rounded() / 1000
        return rounded == rounded.rounded() ? String(Int64(rounded)) : String(rounded)
    }
}
