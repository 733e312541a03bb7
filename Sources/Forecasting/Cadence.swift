#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A sampling interval, and spans of time counted in its slots. The forecaster sets every
/// season, window, lag, horizon and half-life in seconds and reads its slot count here, so a
/// day is 288 slots at 300 s, 1516 at 57 s and 8640 at 10 s.
public struct Cadence: Sendable, Hashable {
    /// Seconds per slot.
    public let interval: Int

    public init(interval: Int) {
        precondition(interval > 0, "an interval is a positive number of seconds")
        self.interval = interval
    }

    /// The whole number of slots nearest to `seconds` (halves round up), at least 1.
    public func slots(_ seconds: Int) -> Int {
        max(1, (2 * seconds + interval) / (2 * interval))
    }

    /// `seconds` in slots, unrounded: for half-lives.
    public func fraction(_ seconds: Double) -> Double { seconds / Double(interval) }

    public var day: Int { slots(86_400) }
    public var week: Int { slots(7 * 86_400) }

    /// Slots between the values a network reads: 5 minutes, or every slot when slots are 5
    /// minutes or longer. Residuals that calibrate intervals are kept at the same spacing, so
    /// that a day of them is about 288 values at any interval up to 5 minutes.
    public var stride: Int { slots(300) }

    /// A rate that applies once per `seconds` (a smoothing factor per 5 minutes), per slot.
    public func perSlot(_ rate: Double, per seconds: Int) -> Double {
        interval == seconds ? rate : 1 - pow(1 - rate, Double(interval) / Double(seconds))
    }

    /// A short name of a span: `1d`, `3h`, `15m`, `30s`.
    public static func label(_ seconds: Int) -> String {
        for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] where seconds >= size && seconds % size == 0 {
            return "\(seconds / size)\(unit)"
        }
        return "\(seconds)s"
    }
}
