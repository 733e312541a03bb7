/// The peak of one instance's readings over about the last `rounds` rounds, in at most 288
/// values whatever the window: up to 288 rounds each reading is kept (exact); beyond, the
/// peaks of buckets of `ceil(rounds / 288)` rounds, so the window covers at least `rounds`
/// and fewer than `rounds + 2 × bucket` rounds (a week of 5-minute rounds: buckets of 7, at
/// most 6 rounds beyond the week).
struct PeakWindow: Sendable {
    static let maximumValues = 288
    let bucket: Int
    /// Peaks of the completed buckets (NaN: no reading in it), a ring whose next slot to
    /// write is `next`.
    private var peaks: [Double] = []
    private var next = 0
    private let capacity: Int
    /// The bucket being filled: its peak and how many rounds it holds.
    private var current = Double.nan
    private var filled = 0

    init(rounds: Int) {
        let rounds = max(1, rounds)
        bucket = (rounds + Self.maximumValues - 1) / Self.maximumValues
        capacity = (rounds + bucket - 1) / bucket
    }

    /// Adds a round's reading (NaN: the instance was absent).
    mutating func record(_ reading: Double) {
        if !reading.isNaN { current = current.isNaN ? reading : max(current, reading) }
        filled += 1
        guard filled == bucket else { return }
        if peaks.count < capacity { peaks.append(current) } else { peaks[next] = current; next = (next + 1) % capacity }
        current = .nan
        filled = 0
    }

    /// The peak over the window; nil when no round in it had a reading.
    var peak: Double? {
        var out: Double? = current.isNaN ? nil : current
        for value in peaks where !value.isNaN { out = max(out ?? value, value) }
        return out
    }
}
