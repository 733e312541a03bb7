import Drivers
import PoolCore

/// Turns a driver's cumulative counters into what each instance did since the last reading.
struct DriverSampler {
    private var last: [InstanceID: InstanceSignals] = [:]

    /// The deltas since the previous reading of each instance; an instance read for the first
    /// time gives none yet.
    mutating func take(_ readings: [InstanceID: InstanceSignals]) -> [String: SignalDelta] {
        var out: [String: SignalDelta] = [:]
        out.reserveCapacity(readings.count)
        for (id, reading) in readings {
            if let earlier = last[id], let delta = SignalDelta(from: earlier, to: reading) { out[id.rawValue] = delta }
            last[id] = reading
        }
        return out
    }
}
