/// A point forecaster over one series, fed one slot at a time.
///
/// `observe` is called once per slot in time order with the slot's value (NaN when missing),
/// after `history` already holds it. `forecast` writes into `output[h - 1]` the forecast of
/// the slot `h` steps after the last observed one (h = 1 is the next slot), for every h in
/// `1...output.count`, from what was observed so far, never later values.
public protocol Forecaster: Sendable {
    var name: String { get }
    mutating func observe(_ value: Double, history: RecentHistory)
    func forecast(_ history: RecentHistory, into output: inout ArraySlice<Double>, scratch: inout [Double])
}

extension Forecaster {
    public mutating func observe(_ value: Double, history: RecentHistory) {}
}

extension ArraySlice where Element == Double {
    /// Sets every element to `value`.
    mutating func fill(_ value: Double) {
        for index in indices { self[index] = value }
    }
}
