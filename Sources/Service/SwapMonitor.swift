import Drivers
import Execution
import Foundation
import PoolCore
import Storage

/// Verify: every instance's recent rounds (the baseline of a swap, the working set of the
/// risk gate) and the swaps being watched after they took effect.
struct SwapMonitor {
    /// A swap in its verification window, with its stored record.
    struct Watched {
        var record: SwapRecord
        var lifecycle: SwapLifecycle
    }

    private var recent: [String: [VerificationRound]] = [:]
    /// Peak memory per instance over the last `memoryRounds` rounds: the working set.
    private var memory: [String: PeakWindow] = [:]
    private(set) var watched: [Int64: Watched] = [:]
    /// Rounds kept per instance, and memory readings kept per instance.
    let keep: Int
    let memoryRounds: Int

    init(keep: Int, memoryRounds: Int) {
        self.keep = max(1, keep)
        self.memoryRounds = max(1, memoryRounds)
    }

    /// Adds `id`'s round, forgetting the oldest beyond `keep` (memory: `memoryRounds`).
    mutating func record(_ round: VerificationRound, for id: String) {
        recent[id, default: []].append(round)  // in place: no copy of the array
        if let count = recent[id]?.count, count > keep { recent[id]?.removeFirst(count - keep) }
        memory[id, default: PeakWindow(rounds: memoryRounds)].record(round.present ? round.memory : .nan)
    }

    /// `id`'s newest round.
    func latest(_ id: String) -> VerificationRound? { recent[id]?.last }

    /// The mean of `id`'s last `rounds` rounds.
    func baseline(_ id: String, rounds: Int) -> Baseline { Baseline(Array((recent[id] ?? []).suffix(rounds))) }

    /// Fills `id`'s memory readings from stored samples (oldest first; NaN: a gap), as after a
    /// restart: the floor then holds the day before it, not only the rounds since.
    mutating func seedMemory(_ readings: [Double], for id: String) {
        var window = PeakWindow(rounds: memoryRounds)
        for reading in readings.suffix(memoryRounds) { window.record(reading) }
        memory[id] = window
    }

    /// Peak memory of `id` over the last `memoryRounds` rounds (see `PeakWindow`), GiB; nil
    /// when it was present in none of them.
    func workingSet(_ id: String) -> Double? { memory[id]?.peak }

    mutating func watch(_ record: SwapRecord, _ lifecycle: SwapLifecycle) {
        guard let id = record.id else { return }
        watched[id] = Watched(record: record, lifecycle: lifecycle)
    }

    mutating func stopWatching(_ id: Int64) { watched[id] = nil }

    mutating func update(_ id: Int64, _ body: (inout Watched) -> Void) {
        guard var entry = watched[id] else { return }
        body(&entry)
        watched[id] = entry
    }
}

/// A swap's record and its lifecycle, one from the other.
enum SwapRecords {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return encoder
    }()
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return decoder
    }()

    static func text<T: Encodable>(_ value: T?) -> String? {
        guard let value, let data = try? encoder.encode(value) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    static func value<T: Decodable>(_ type: T.Type, _ text: String?) -> T? {
        guard let text else { return nil }
        return try? decoder.decode(type, from: Data(text.utf8))
    }

    static func change(_ record: SwapRecord) -> SwapChange {
        SwapChange(instance: InstanceID(record.instance), tenant: record.tenant, fromNode: NodeID(record.fromNode), toNode: NodeID(record.toNode),
                   before: vector(record.before), after: vector(record.after))
    }

    static func phase(_ outcome: SwapRecord.Outcome) -> SwapLifecycle.Phase {
        switch outcome {
        case .verifying: .verifying
        case .committed: .committed
        case .rolledBack: .rolledBack
        case .rejected: .rejected
        case .held: .held
        case .failedSafe: .failedSafe
        }
    }

    static func outcome(_ phase: SwapLifecycle.Phase) -> SwapRecord.Outcome? {
        switch phase {
        case .verifying: .verifying
        case .committed: .committed
        case .rolledBack: .rolledBack
        case .rejected: .rejected
        case .held: .held
        case .failedSafe: .failedSafe
        case .planned, .approved, .applying, .rollingBack: nil
        }
    }

    /// The lifecycle a stored record stands for.
    static func lifecycle(_ record: SwapRecord) -> SwapLifecycle {
        SwapLifecycle(change: change(record), phase: phase(record.outcome), risk: value(RiskReport.self, record.risk), reason: record.reason,
                      verification: value(Verification.self, record.verification), restored: record.restored.map(vector))
    }

    /// `record` brought up to `lifecycle` (its phase, if stored as an outcome, and its figures).
    static func updated(_ record: SwapRecord, _ lifecycle: SwapLifecycle, at time: Int64) -> SwapRecord {
        var record = record
        if let outcome = outcome(lifecycle.phase) { record.outcome = outcome }
        record.reason = lifecycle.reason
        record.risk = text(lifecycle.risk) ?? record.risk
        record.verification = text(lifecycle.verification) ?? record.verification
        record.realisedBenefit = lifecycle.verification?.realisedBenefit ?? record.realisedBenefit
        record.utilisationAfter = lifecycle.verification?.utilisationAfter ?? record.utilisationAfter
        record.restored = lifecycle.restored.map(values) ?? record.restored
        if lifecycle.phase.isFinal, lifecycle.phase != .rejected, record.endedAt == nil { record.endedAt = time }
        return record
    }
}
