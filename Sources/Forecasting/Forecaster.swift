/// A point forecaster over one series, fed one slot at a time.
///
/// `observe` is called once per slot in time order with the slot's value (NaN when missing),
/// after `history` already holds it. `forecast` writes into `output[h - 1]` the forecast of
/// the slot `h` steps after the last observed one (h = 1 is the next slot), for every h in
/// `1...output.count`, from what was observed so far, never later values.
public protocol Forecaster: Sendable {
    var name: String { get }
    mutating func observe(_ value: Double, history: RecentHistory)
    /// `output` is the caller's storage, written in place (a slice copied in and out would
    /// allocate on every slot).
    func forecast(_ history: RecentHistory, into output: UnsafeMutableBufferPointer<Double>, scratch: inout [Double])
}

extension Forecaster {
    public mutating func observe(_ value: Double, history: RecentHistory) {}
}

extension UnsafeMutableBufferPointer where Element == Double {
    /// Sets every element to `value`.
    func fill(_ value: Double) { update(repeating: value) }
}
