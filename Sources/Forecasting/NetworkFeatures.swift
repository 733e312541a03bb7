#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The inputs a recurrent forecaster sees, built by one function for training and for use.
///
/// Spans are set in time and counted in slots of the cadence: the network reads one value per
/// `stride` slots (5 minutes, or every slot when slots are longer), seasons are a day and a
/// week, and its targets are the forecast horizons (H of them, in slots). At 300 s every count
/// below is the one named.
///
/// Every usage value enters relative to the anchor (the last slot, which must be observed) in
/// units of the series' scale: `(v - anchor) / scale`. Missing slots are NaN.
///
/// Per step of the last `steps` strides, oldest first (F = 4): the relative value clipped to
/// ±`clip` (0 when missing), 1 when missing, sine and cosine of the slot's time of day.
///
/// Context (C = 90 + 3·H; 108 for 6 horizons), each passed through `sign(v)·log(1 + |v|)` and NaN → 0:
/// - relative values at stride lags 1...36 (3 hours);
/// - over the last 30 minutes, 1, 3 and 8 hours and a day (one value per stride): mean,
///   standard deviation, minimum, maximum and the 10th, 50th and 90th percentiles of the
///   relative values;
/// - the relative values a day before the anchor and before each target, the same a week
///   before, and per target the median of its slot's values over the last 5 days;
/// - anchor / scale, log(1 + anchor / scale), log(scale), anchor / allocation;
/// - the other resource of the instance: its relative values at stride lags 1...6 and their
///   spread over 12, in its own anchor and scale;
/// - time of day (sine, cosine), day of week (0 = Monday) and weekend, of the first slot after the anchor;
/// - 1 where the day-before and week-before values are missing.
///
/// Targets are the values at the horizons in the same units: `(y - anchor) / scale`.
public struct NetworkFeatures: Sendable, Equatable {
    public static let stepCount = 4
    public static let clip = 20.0
    static let lags = 36
    static let windowSeconds = [1_800, 3_600, 10_800, 28_800, 86_400]

    public let cadence: Cadence
    /// The horizons the targets are at, in slots.
    public let horizons: [Int]
    public let contextCount: Int
    /// Slots of history the context reaches back: a week plus one slot.
    public let reach: Int
    let stride: Int
    let windows: [Int]
    let day: Int
    let week: Int

    public init(cadence: Cadence = Cadence(interval: 300), horizons: [Int] = Array(1...6)) {
        precondition(!horizons.isEmpty && horizons.allSatisfy { $0 >= 1 })
        self.cadence = cadence
        self.horizons = horizons
        contextCount = Self.contextCount(horizons: horizons.count)
        stride = cadence.stride
        windows = Self.windowSeconds.map(cadence.slots)
        day = cadence.day
        week = cadence.week
        reach = max(week + 1, 5 * day, windows.max()!, Self.lags * stride)
    }

    /// The context's size for `horizons` targets.
    public static func contextCount(horizons: Int) -> Int { 90 + 3 * horizons }

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

    /// Writes the step features of the last `steps` strides into `sequence` [steps, F] and the
    /// context into `context` [C]; returns the anchor, or nil when the anchor slot is missing.
    /// `firstTarget` is the absolute slot (epoch seconds / interval) after the anchor.
    /// `scratch` is reused for sorting.
    @discardableResult
    public func fill(
        series: Window, other: Window?, allocation: Double, firstTarget: Int64, steps: Int,
        sequence: UnsafeMutablePointer<Double>, context: UnsafeMutablePointer<Double>, scratch: inout [Double]
    ) -> Double? {
        let anchor = series[lag: 1]
        guard !anchor.isNaN else { return nil }
        let scale = series.scale
        let stride = self.stride
        @inline(__always) func relative(_ lag: Int) -> Double { (series[lag: lag] - anchor) / scale }
        for step in 0..<steps {
            let lag = (steps - step - 1) * stride + 1
            let v = relative(lag)
            let row = sequence + step * Self.stepCount
            row[0] = v.isNaN ? 0 : min(Self.clip, max(-Self.clip, v))
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
        for lag in 1...Self.lags { put(relative((lag - 1) * stride + 1)) }
        for window in windows {
            scratch.removeAll(keepingCapacity: true)
            var sum = 0.0
            // One value per stride, as the lags: a day is 288 values at any interval.
            var lag = 1
            while lag <= window {
                let v = relative(lag)
                if !v.isNaN { scratch.append(v); sum += v }
                lag += stride
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
        // A day and a week back, from the anchor and from each target.
        for season in 0..<2 {
            let season = season == 0 ? self.day : week
            put(relative(season + 1))
            for horizon in horizons { put(relative(season - horizon + 1)) }
        }
        for horizon in horizons {
            scratch.removeAll(keepingCapacity: true)
            for back in 1...5 {
                let v = series[lag: back * self.day - horizon + 1]
                if !v.isNaN { scratch.append(v) }
            }
            put(scratch.isEmpty ? .nan : (selectQuantile(&scratch, 0.5) - anchor) / scale)
        }
        put(anchor / scale)
        put(log1p(max(0, anchor) / scale))
        put(log(scale))
        put(allocation > 0 ? anchor / allocation : .nan)
        if let other, let otherAnchor = (1...12).lazy.map({ other[lag: ($0 - 1) * stride + 1] }).first(where: { !$0.isNaN }) {
            @inline(__always) func otherRelative(_ lag: Int) -> Double { (other[lag: (lag - 1) * stride + 1] - otherAnchor) / other.scale }
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
        let days = Self.floorDivide(firstTarget * Int64(cadence.interval), 86_400)
        let weekday = Double(((days + 4) % 7 + 7) % 7) // 1970-01-01 was a Thursday
        put(weekday)
        put(weekday >= 5 ? 1 : 0)
        context[c] = series[lag: self.day + 1].isNaN ? 1 : 0
        context[c + 1] = series[lag: week + 1].isNaN ? 1 : 0
        c += 2
        assert(c == contextCount)
        return anchor
    }

    /// The angle of the time of day at which absolute slot `slot` starts.
    @inline(__always) func dayAngle(_ slot: Int64) -> Double {
        let seconds = slot * Int64(cadence.interval)
        let phase = seconds - Self.floorDivide(seconds, 86_400) * 86_400
        // In slots, as a fraction of a day's slots (whole numbers at 300 s).
        let interval = Double(cadence.interval)
        return 2 * Double.pi * (Double(phase) / interval) / (86_400 / interval)
    }

    @inline(__always) static func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
        a >= 0 ? a / b : -((-a + b - 1) / b)
    }
}
