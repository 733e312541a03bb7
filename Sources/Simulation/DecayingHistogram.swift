#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A histogram of samples whose weights halve every `halfLife` seconds, with exponentially
/// growing buckets, as in the Kubernetes VPA recommender.
///
/// Bucket `i` covers `[start(i), start(i+1))` with `start(i) = firstBucketSize * (ratio^i - 1) / (ratio - 1)`.
/// Rather than decaying every weight, new samples get weight `2^((time - referenceTime) / halfLife)`;
/// the reference moves forward (rescaling all weights once) before that factor grows large.
public struct DecayingHistogram: Sendable {
    public let firstBucketSize: Double
    public let ratio: Double
    public let halfLife: Double
    private var weights: [Double]
    /// `bucketStart(i + 1)` for every bucket: the value a percentile in bucket `i` reports.
    private let bucketEnds: [Double]
    private var totalWeight = 0.0
    private var referenceTime: Double?
    private let logRatio: Double

    public init(firstBucketSize: Double, maxValue: Double, ratio: Double = 1.05, halfLife: Double = 86_400) {
        precondition(firstBucketSize > 0 && maxValue > firstBucketSize && ratio > 1 && halfLife > 0)
        self.firstBucketSize = firstBucketSize
        self.ratio = ratio
        self.halfLife = halfLife
        self.logRatio = log(ratio)
        let count = Int(log(maxValue * (ratio - 1) / firstBucketSize + 1) / log(ratio)) + 1
        weights = [Double](repeating: 0, count: count)
        bucketEnds = (1...count).map { firstBucketSize * (pow(ratio, Double($0)) - 1) / (ratio - 1) }
    }

    public var isEmpty: Bool { totalWeight == 0 }
    public var bucketCount: Int { weights.count }

    public func bucketStart(_ index: Int) -> Double {
        firstBucketSize * (pow(ratio, Double(index)) - 1) / (ratio - 1)
    }

    public func bucket(for value: Double) -> Int {
        guard value > 0 else { return 0 }
        let index = Int(log(value * (ratio - 1) / firstBucketSize + 1) / logRatio)
        return min(index, weights.count - 1)
    }

    /// Takes back a sample added earlier with the same value, weight and time (floored at 0,
    /// for rounding).
    public mutating func subtract(_ value: Double, weight: Double = 1, at time: Double) {
        guard let reference = referenceTime, !value.isNaN else { return }
        let decayed = weight * exp2((time - reference) / halfLife)
        let bucket = bucket(for: value)
        weights[bucket] = max(0, weights[bucket] - decayed)
        totalWeight = max(0, totalWeight - decayed)
    }

    /// Adds `value` seen at `time` (seconds) with weight `weight` before decay.
    public mutating func add(_ value: Double, weight: Double = 1, at time: Double) {
        guard !value.isNaN else { return }
        let reference = referenceTime ?? time
        if referenceTime == nil { referenceTime = time }
        var exponent = (time - reference) / halfLife
        if exponent > 64 {
            // Move the reference to now: every stored weight shrinks by the same factor.
            let scale = exp2(-exponent)
            for index in weights.indices { weights[index] *= scale }
            totalWeight *= scale
            referenceTime = time
            exponent = 0
        }
        let decayed = weight * exp2(exponent)
        weights[bucket(for: value)] += decayed
        totalWeight += decayed
    }

    /// The upper ends of the buckets holding the given quantiles (ascending, each in 0...1), in one pass.
    public func percentiles<let count: Int>(_ quantiles: InlineArray<count, Double>) -> InlineArray<count, Double> {
        var result = InlineArray<count, Double>(repeating: 0)
        guard totalWeight > 0 else { return result }
        var next = 0
        var cumulative = 0.0
        for index in weights.indices {
            cumulative += weights[index]
            while next < count, cumulative >= quantiles[next] * totalWeight * (1 - 1e-12) {
                result[next] = bucketEnds[index]
                next += 1
            }
            if next == count { break }
        }
        while next < count {
            result[next] = bucketEnds[weights.count - 1]
            next += 1
        }
        return result
    }
}
