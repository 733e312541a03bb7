/// The last `capacity` slots of one series, oldest overwritten first; NaN marks a slot
/// without a sample. Models read it; only `ForecastEngine` appends to it.
///
/// Each value is stored twice, `capacity` apart, so that the most recent slots are always one
/// contiguous run of memory (`withRecent`), without copying.
public struct RecentHistory: Sendable {
    public let capacity: Int
    private var values: [Double]
    /// Slots appended so far.
    public private(set) var count = 0
    /// The most recent present value and how many slots ago it was (1 = the last slot).
    public private(set) var lastPresent: Double = .nan
    public private(set) var lastPresentAge = Int.max

    public init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
        values = [Double](repeating: .nan, count: 2 * capacity)
    }

    public mutating func append(_ value: Double) {
        let position = count % capacity
        values[position] = value
        values[position + capacity] = value
        count += 1
        if value.isNaN {
            if lastPresentAge != .max { lastPresentAge += 1 }
        } else {
            lastPresent = value
            lastPresentAge = 1
        }
    }

    /// The value `lag` slots ago (1 = the last appended), NaN when missing or out of reach.
    @inline(__always)
    public subscript(lag lag: Int) -> Double {
        guard lag >= 1, lag <= capacity, lag <= count else { return .nan }
        return values[(count - lag) % capacity]
    }

    /// Calls `body` with the last `limit` slots (fewer when fewer were kept), oldest first.
    @inline(__always)
    public func withRecent<R>(_ limit: Int, _ body: (UnsafeBufferPointer<Double>) -> R) -> R {
        let length = min(limit, count, capacity)
        let end = (count - 1) % capacity + capacity + 1 // one past the newest, in the second copy
        return values.withUnsafeBufferPointer { all in
            body(length == 0 ? UnsafeBufferPointer(start: all.baseAddress, count: 0)
                             : UnsafeBufferPointer(rebasing: all[(end - length)..<end]))
        }
    }
}
