/// A point forecaster over one series, fed one slot at a time.
///
/// `observe` is called once per slot in time order with the slot's value (NaN when missing),
/// after `history` already holds it. `forecast` writes into `output[k]` the forecast of the
/// slot `horizons[k]` steps after the last observed one (1 = the next slot), from what was
/// observed so far, never later values.
public protocol Forecaster: Sendable {
    var name: String { get }
    mutating func observe(_ value: Double, history: RecentHistory)
    /// `output` is the caller's storage, written in place (a slice copied in and out would
    /// allocate on every slot); it holds one element per horizon.
    func forecast(_ history: RecentHistory, horizons: [Int], into output: UnsafeMutableBufferPointer<Double>, scratch: inout [Double])
}

extension Forecaster {
    public mutating func observe(_ value: Double, history: RecentHistory) {}
}

extension UnsafeMutableBufferPointer where Element == Double {
    /// Sets every element to `value`.
    func fill(_ value: Double) { update(repeating: value) }
}
