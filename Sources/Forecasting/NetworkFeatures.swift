#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The inputs a recurrent forecaster sees, built the same way for training and for use.
///
/// Per step of the window, oldest first (F = 6):
/// 0. the value relative to the window's anchor (its last observed value), in units of the
///    series' scale, clipped to ±`clip`; 0 when missing
/// 1. 1 when the slot is missing, else 0
/// 2–3. sine and cosine of the time of day
/// 4–5. sine and cosine of the time of week
/// Targets are the coming values in the same units: `(y - anchor) / scale`.
public enum NetworkFeatures {
    public static let count = 6
    public static let clip = 20.0
    static let slotsPerDay = 288.0
    static let slotsPerWeek = 2016.0

    /// Fills `x` (count `steps * count`) for the window of `steps` slots ending `lag` 1, whose
    /// last slot is the absolute 5-minute slot `lastSlot` (epoch seconds / 300).
    public static func window(
        steps: Int, lastSlot: Int64, anchor: Double, scale: Double, value: (_ lag: Int) -> Double, into x: inout [Double]
    ) {
        x.removeAll(keepingCapacity: true)
        for step in 0..<steps {
            let lag = steps - step
            let v = value(lag)
            let slot = Double(lastSlot - Int64(lag - 1))
            if v.isNaN {
                x.append(0)
                x.append(1)
            } else {
                x.append(min(clip, max(-clip, (v - anchor) / scale)))
                x.append(0)
            }
            let day = 2 * Double.pi * slot.truncatingRemainder(dividingBy: slotsPerDay) / slotsPerDay
            let week = 2 * Double.pi * slot.truncatingRemainder(dividingBy: slotsPerWeek) / slotsPerWeek
            x.append(sin(day))
            x.append(cos(day))
            x.append(sin(week))
            x.append(cos(week))
        }
    }
}
