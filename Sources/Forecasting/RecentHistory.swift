/// The last `capacity` slots of one series, oldest overwritten first; NaN marks a slot
/// without a sample. Models read it; only `ForecastEngine` appends to it.
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
        values = [Double](repeating: .nan, count: capacity)
    }

    public mutating func append(_ value: Double) {
        values[count % capacity] = value
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

    /// Up to `limit` most recent present values, newest first, into `buffer` (cleared first),
    /// looking back at most `window` slots.
    public func recentPresent(_ limit: Int, within window: Int, into buffer: inout [Double]) {
        buffer.removeAll(keepingCapacity: true)
        var reach = min(window, capacity, count)
        var position = (count - 1) % capacity
        while reach > 0 && buffer.count < limit {
            let value = values[position]
            if !value.isNaN { buffer.append(value) }
            position = position == 0 ? capacity - 1 : position - 1
            reach -= 1
        }
    }
}
