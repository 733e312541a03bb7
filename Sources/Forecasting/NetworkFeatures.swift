#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The inputs a recurrent forecaster sees, built by one function for training and for use.
///
/// Every usage value enters relative to the anchor (the last slot, which must be observed) in
/// units of the series' scale: `(v - anchor) / scale`. Missing slots are NaN.
///
/// Per step of the last `steps` slots, oldest first (F = 4): the relative value clipped to
/// ±`clip` (0 when missing), 1 when missing, sine and cosine of the slot's time of day.
///
/// Context (C = 108), each passed through `sign(v)·log(1 + |v|)` and NaN → 0:
/// - relative values at lags 1...36 (3 hours);
/// - over the last 6, 12, 36, 96 and 288 slots: mean, standard deviation, minimum, maximum and
///   the 10th, 50th and 90th percentiles of the relative values;
/// - the 7 relative values a day before the slots from one before the first target to the
///   sixth target, the same a week before, and the median of the 6 target slots' values over
///   the last 5 days;
/// - anchor / scale, log(1 + anchor / scale), log(scale), anchor / allocation;
/// - the other resource of the instance: its relative values at lags 1...6 and their spread
///   over 12 slots, in its own anchor and scale;
/// - time of day (sine, cosine), day of week (0 = Monday) and weekend, of the first target;
/// - 1 where the day-before and week-before values are missing.
///
/// Targets are the coming values in the same units: `(y - anchor) / scale`.
public enum NetworkFeatures {
    public static let stepCount = 4
    public static let contextCount = 108
    public static let clip = 20.0
    /// Slots of history the context reaches back: a week plus one slot.
    public static let reach = 2017
    static let lags = 36
    static let windows = [6, 12, 36, 96, 288]
    static let slotsPerDay: Int64 = 288

    /// The series as the features read it: `values` oldest first, the last element being the
    /// anchor slot; slots before the buffer are missing.
    public struct Window {
        public var values: UnsafeBufferPointer<Double>
        public var scale: Double
        public init(values: UnsafeBufferPointer<Double>, scale: Double) {
            self.values = values
            self.scale = scale
        }
        /// The value `lag` slots before the first target (1 = the anchor slot); NaN beyond the buffer.
        @inline(__always) subscript(lag lag: Int) -> Double {
            lag >= 1 && lag <= values.count ? values[values.count - lag] : .nan
        }
    }

    /// Writes the step features of the last `steps` slots into `sequence` [steps, F] and the
    /// context into `context` [C]; returns the anchor, or nil when the anchor slot is missing.
    /// `firstTarget` is the absolute 5-minute slot (epoch seconds / 300) of the first slot
    /// forecast. `scratch` is reused for sorting.
    @discardableResult
    public static func fill(
        series: Window, other: Window?, allocation: Double, firstTarget: Int64, steps: Int,
        sequence: UnsafeMutablePointer<Double>, context: UnsafeMutablePointer<Double>, scratch: inout [Double]
    ) -> Double? {
        let anchor = series[lag: 1]
        guard !anchor.isNaN else { return nil }
        let scale = series.scale
        @inline(__always) func relative(_ lag: Int) -> Double { (series[lag: lag] - anchor) / scale }
        for step in 0..<steps {
            let lag = steps - step
            let v = relative(lag)
            let row = sequence + step * stepCount
            row[0] = v.isNaN ? 0 : min(clip, max(-clip, v))
            row[1] = v.isNaN ? 1 : 0
            let day = dayAngle(firstTarget - Int64(lag))
            row[2] = sin(day)
            row[3] = cos(day)
        }
        var c = 0
        @inline(__always) func put(_ v: Double) {
            context[c] = v.isNaN ? 0 : (v < 0 ? -log1p(-v) : log1p(v))
            c += 1
        }
        for lag in 1...lags { put(relative(lag)) }
        for window in windows {
            scratch.removeAll(keepingCapacity: true)
            var sum = 0.0
            for lag in 1...window {
                let v = relative(lag)
                if !v.isNaN { scratch.append(v); sum += v }
            }
            guard !scratch.isEmpty else {
                for _ in 0..<7 { put(.nan) }
                continue
            }
            let n = Double(scratch.count)
            let mean = sum / n
            var squares = 0.0, low = Double.infinity, high = -Double.infinity
            for v in scratch {
                squares += (v - mean) * (v - mean)
                low = min(low, v)
                high = max(high, v)
            }
            put(mean)
            put((squares / n).squareRoot())
            put(low)
            put(high)
            // Each selection leaves the window partitioned around its rank; the next still finds its own.
            put(selectQuantile(&scratch, 0.1))
            put(selectQuantile(&scratch, 0.5))
            put(selectQuantile(&scratch, 0.9))
        }
        // A day and a week back, from one slot before the first target to the sixth target.
        for season in [288, 2016] {
            for offset in -1...5 { put(relative(season - offset)) }
        }
        for offset in 0..<6 {
            scratch.removeAll(keepingCapacity: true)
            for day in 1...5 {
                let v = series[lag: day * 288 - offset]
                if !v.isNaN { scratch.append(v) }
            }
            put(scratch.isEmpty ? .nan : (selectQuantile(&scratch, 0.5) - anchor) / scale)
        }
        put(anchor / scale)
        put(log1p(max(0, anchor) / scale))
        put(log(scale))
        put(allocation > 0 ? anchor / allocation : .nan)
        if let other, let otherAnchor = (1...12).lazy.map({ other[lag: $0] }).first(where: { !$0.isNaN }) {
            @inline(__always) func otherRelative(_ lag: Int) -> Double { (other[lag: lag] - otherAnchor) / other.scale }
            for lag in 1...6 { put(otherRelative(lag)) }
            var sum = 0.0, count = 0.0
            for lag in 1...12 { let v = otherRelative(lag); if !v.isNaN { sum += v; count += 1 } }
            var squares = 0.0
            for lag in 1...12 { let v = otherRelative(lag); if !v.isNaN { squares += (v - sum / count) * (v - sum / count) } }
            put((squares / count).squareRoot())
        } else {
            for _ in 0..<7 { put(.nan) }
        }
        let day = dayAngle(firstTarget)
        put(sin(day))
        put(cos(day))
        let weekday = Double(((firstTarget / slotsPerDay) + 4) % 7) // 1970-01-01 was a Thursday
        put(weekday)
        put(weekday >= 5 ? 1 : 0)
        context[c] = series[lag: 289].isNaN ? 1 : 0
        context[c + 1] = series[lag: 2017].isNaN ? 1 : 0
        c += 2
        assert(c == contextCount)
        return anchor
    }

    @inline(__always) static func dayAngle(_ slot: Int64) -> Double {
        let phase = ((slot % slotsPerDay) + slotsPerDay) % slotsPerDay
        return 2 * Double.pi * Double(phase) / Double(slotsPerDay)
    }
}
