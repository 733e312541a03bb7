import Storage

/// Ingest: checks each sample of a batch, and keeps the newest sample of each instance for
/// the slot being filled. Bad samples are counted by reason and skipped.
struct SampleIntake {
    /// The newest accepted sample of each instance not yet taken into a slot.
    private(set) var pending: [String: UsageSample] = [:]
    /// Of the pending samples, cpu throttled and OOM kills, where the sender gave them.
    private(set) var signals: [String: (throttled: Double, oomKills: Int)] = [:]
    private var lastTime: [String: Int64] = [:]

    /// The batch's good samples (memory bumped where the kernel OOM-killed, see `OOMDemand`)
    /// and the receipt; `known` tells whether an instance exists and the caller may push for it,
    /// `limit` its memory allocation; `now` is the end of the slot being filled.
    func check(_ batch: [UsageSampleBody], now: Int64, interval: Int64, known: (String) -> Bool,
               limit: (String) -> Double? = { _ in nil }) -> ([UsageSample], UsageReceipt, Signals) {
        var good: [UsageSample] = []
        var said: Signals = [:]
        var reasons: [String: Int] = [:]
        var examples: [String] = []
        var newest: [String: Int64] = [:]
        for (k, sample) in batch.enumerated() {
            let values = [sample.cpu, sample.memory, sample.gpu ?? 0, sample.throttled ?? 0]
            let reason: String?
            if !known(sample.instance) { reason = "unknown instance" }
            else if values.contains(where: \.isNaN) { reason = "NaN" }
            else if values.contains(where: { !$0.isFinite }) { reason = "not finite" }
            else if values.contains(where: { $0 < 0 }) || (sample.oomKills ?? 0) < 0 { reason = "negative" }
            else if (sample.throttled ?? 0) > sample.cpu { reason = "throttled above cpu" }
            else if let last = newest[sample.instance] ?? lastTime[sample.instance], sample.time <= last { reason = "out of order" }
            else if sample.time > now + interval { reason = "far future" }
            else { reason = nil }
            if let reason {
                reasons[reason, default: 0] += 1
                if examples.count < 10 { examples.append("samples[\(k)] (\(sample.instance) at \(sample.time)): \(reason)") }
                continue
            }
            newest[sample.instance] = sample.time
            let memory = OOMDemand.memory(sample.memory, oomKills: sample.oomKills ?? 0, limit: limit(sample.instance))
            good.append(UsageSample(instance: sample.instance, time: sample.time, used: [sample.cpu, memory, sample.gpu ?? 0]))
            said[sample.instance] = sample.throttled == nil && sample.oomKills == nil ? nil : (sample.time, sample.throttled ?? 0, sample.oomKills ?? 0)
        }
        return (good, UsageReceipt(accepted: good.count, rejected: batch.count - good.count, reasons: reasons, examples: examples), said)
    }

    /// Of each instance, the newest accepted sample's time, throttled cores and OOM kills, where
    /// its sender gave them.
    typealias Signals = [String: (time: Int64, throttled: Double, oomKills: Int)]

    /// Keeps stored samples as the newest of their instances, with what `check` said of their
    /// throttling and OOM kills.
    mutating func keep(_ samples: [UsageSample], said: Signals = [:]) {
        for sample in samples where sample.time >= lastTime[sample.instance] ?? .min {
            lastTime[sample.instance] = sample.time
            pending[sample.instance] = sample
            if let s = said[sample.instance], s.time == sample.time { signals[sample.instance] = (s.throttled, s.oomKills) } else { signals[sample.instance] = nil }
        }
    }

    /// The sample of `id` within the slot starting at `time`, if one came.
    func sample(_ id: String, inSlotAt time: Int64, interval: Int64) -> UsageSample? {
        guard let sample = pending[id], sample.time >= time, sample.time < time + interval else { return nil }
        return sample
    }

    /// Forgets samples of slots before the one starting at `time`.
    mutating func drop(before time: Int64) {
        pending = pending.filter { $0.value.time >= time }
        signals = signals.filter { pending[$0.key] != nil }
    }
}
