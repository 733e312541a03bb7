import Storage

/// Ingest: checks each sample of a batch, and keeps the newest sample of each instance for
/// the slot being filled. Bad samples are counted by reason and skipped.
struct SampleIntake {
    /// The newest accepted sample of each instance not yet taken into a slot.
    private(set) var pending: [String: UsageSample] = [:]
    private var lastTime: [String: Int64] = [:]

    /// The batch's good samples and the receipt; `known` tells whether an instance exists and
    /// the caller may push for it; `now` is the end of the slot being filled.
    func check(_ batch: [UsageSampleBody], now: Int64, interval: Int64, known: (String) -> Bool) -> ([UsageSample], UsageReceipt) {
        var good: [UsageSample] = []
        var reasons: [String: Int] = [:]
        var examples: [String] = []
        var newest: [String: Int64] = [:]
        for (k, sample) in batch.enumerated() {
            let values = [sample.cpu, sample.memory, sample.gpu ?? 0]
            let reason: String?
            if !known(sample.instance) { reason = "unknown instance" }
            else if values.contains(where: \.isNaN) { reason = "NaN" }
            else if values.contains(where: { !$0.isFinite }) { reason = "not finite" }
            else if values.contains(where: { $0 < 0 }) { reason = "negative" }
            else if let last = newest[sample.instance] ?? lastTime[sample.instance], sample.time <= last { reason = "out of order" }
            else if sample.time > now + interval { reason = "far future" }
            else { reason = nil }
            if let reason {
                reasons[reason, default: 0] += 1
                if examples.count < 10 { examples.append("samples[\(k)] (\(sample.instance) at \(sample.time)): \(reason)") }
                continue
            }
            newest[sample.instance] = sample.time
            good.append(UsageSample(instance: sample.instance, time: sample.time, used: values))
        }
        return (good, UsageReceipt(accepted: good.count, rejected: batch.count - good.count, reasons: reasons, examples: examples))
    }

    /// Keeps stored samples as the newest of their instances.
    mutating func keep(_ samples: [UsageSample]) {
        for sample in samples {
            lastTime[sample.instance] = max(lastTime[sample.instance] ?? .min, sample.time)
            pending[sample.instance] = sample
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
    }
}
