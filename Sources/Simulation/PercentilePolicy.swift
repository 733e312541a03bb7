#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PoolCore

/// A recommender in the style of the Kubernetes VPA: per instance and resource, a decaying
/// histogram of past usage (half-life one day); the target is its 90th percentile plus a 15%
/// safety margin, the bounds its 50th and 95th percentiles (plus margin) widened while little
/// history exists. An instance is resized to the target only when its allocation falls
/// outside the bounds, which keeps resizes rare.
///
/// As in the VPA, memory is fed the peak of each `memoryPeakWindow` (one sample per window,
/// replaced while the window's peak grows). Unlike the VPA, cpu samples are not weighted by
/// the request.
public struct PercentilePolicy: AllocationPolicy {
    public struct Configuration: Sendable, Equatable {
        public var targetQuantile = 0.9
        public var lowerQuantile = 0.5
        public var upperQuantile = 0.95
        /// Added on top of every percentile (VPA: 15%).
        public var safetyMargin = 0.15
        /// Weight half-life in seconds (VPA: 24 h).
        public var halfLife = 86_400.0
        /// Smallest allocation recommended (VPA: 25 millicores, 250 MiB).
        public var minimumCPU = 0.025
        public var minimumMemory = 250.0 / 1024
        /// Memory usage enters the histogram as one peak per window of this many seconds (VPA: 24 h).
        public var memoryPeakWindow = 86_400.0
        /// Cores added to the cpu target and bounds (VPA: none): to compare with a loop that
        /// adds such a headroom (`ServiceConfiguration.headroom`).
        public var cpuHeadroom = 0.0
        public init() {}
    }

    public let name = "percentile"
    public let configuration: Configuration
    private let interval: Double
    private var cpu: [DecayingHistogram]
    private var memory: [DecayingHistogram]
    private var firstSeen: [Int]
    /// Per instance: start (seconds) and peak of the current memory window; the peak is in the
    /// histogram with the window start's weight.
    private var memoryWindowStart: [Double]
    private var memoryWindowPeak: [Double]

    public init(trace: UsageTrace, configuration: Configuration = Configuration()) {
        self.configuration = configuration
        interval = Double(trace.interval)
        let count = trace.instances.count
        cpu = Array(repeating: DecayingHistogram(firstBucketSize: 0.01, maxValue: 1_000, halfLife: configuration.halfLife), count: count)
        memory = Array(repeating: DecayingHistogram(firstBucketSize: 0.01, maxValue: 10_000, halfLife: configuration.halfLife), count: count)
        firstSeen = Array(repeating: -1, count: count)
        memoryWindowStart = Array(repeating: -.infinity, count: count)
        memoryWindowPeak = Array(repeating: 0, count: count)
    }

    public func target(instance: Int, slot: Int, current: ResourceVector) -> ResourceVector {
        // A resource with no usage seen yet (or none in the trace) keeps its allocation.
        guard !cpu[instance].isEmpty || !memory[instance].isEmpty, firstSeen[instance] >= 0 else { return current }
        // Days of history, as the VPA's confidence: bounds are widened by it.
        let days = Double(slot - firstSeen[instance]) * interval / 86_400
        let upperFactor = 1 + 1 / days
        let lowerFactor = pow(1 + 0.001 / days, -2)
        let quantiles: InlineArray<3, Double> = [configuration.lowerQuantile, configuration.targetQuantile, configuration.upperQuantile]
        let margin = 1 + configuration.safetyMargin
        var target = current
        var lower = current
        var upper = current
        if !cpu[instance].isEmpty {
            let cpuPercentiles = cpu[instance].percentiles(quantiles)
            let headroom = configuration.cpuHeadroom
            target.cpu = max(cpuPercentiles[1] * margin + headroom, configuration.minimumCPU)
            lower.cpu = max(cpuPercentiles[0] * margin * lowerFactor + headroom, configuration.minimumCPU)
            upper.cpu = max(cpuPercentiles[2] * margin * upperFactor + headroom, configuration.minimumCPU)
        }
        if !memory[instance].isEmpty {
            let memoryPercentiles = memory[instance].percentiles(quantiles)
            target.memory = max(memoryPercentiles[1] * margin, configuration.minimumMemory)
            lower.memory = max(memoryPercentiles[0] * margin * lowerFactor, configuration.minimumMemory)
            upper.memory = max(memoryPercentiles[2] * margin * upperFactor, configuration.minimumMemory)
        }
        let inBounds = current.cpu >= lower.cpu && current.cpu <= upper.cpu
            && current.memory >= lower.memory && current.memory <= upper.memory
        return inBounds ? current : target
    }

    public mutating func observe(instance: Int, slot: Int, used: ResourceVector) {
        if firstSeen[instance] < 0 { firstSeen[instance] = slot }
        let time = Double(slot) * interval
        cpu[instance].add(used.cpu, at: time)
        guard !used.memory.isNaN else { return }
        if time >= memoryWindowStart[instance] + configuration.memoryPeakWindow {
            memoryWindowStart[instance] = time
            memoryWindowPeak[instance] = used.memory
            memory[instance].add(used.memory, at: time)
        } else if used.memory > memoryWindowPeak[instance] {
            memory[instance].subtract(memoryWindowPeak[instance], at: memoryWindowStart[instance])
            memoryWindowPeak[instance] = used.memory
            memory[instance].add(used.memory, at: memoryWindowStart[instance])
        }
    }
}
