import PoolCore

/// How well a network forecasts slots it did not train on: its mean pinball loss (over its
/// quantiles and horizons, in units of each series' scale) on the windows whose first target
/// lies in `from..<to` and is observed. Two networks of the same horizons and quantiles scored
/// on the same series and slots are compared by it (champion and challenger).
public enum NetworkValidation {
    /// Nil when no window fits or the loss is not finite. Scales are measured before `from`, as
    /// training measures them before its end; a series without two consecutive samples before
    /// `from` (an instance that just came) is left out, its scale unknown. At most `maxWindows`
    /// windows are scored, evenly spread over all of them; they are read `batch` at a time.
    public static func loss(of network: RecurrentNetwork, series: [TrainingSeries], startSlot: Int64, from: Int, to: Int,
                            maxWindows: Int = 100_000, scaleFloor: Double = NetworkTrainer.Configuration().scaleFloor,
                            batch: Int = 256) -> Double? {
        let shape = network.shape
        let features = NetworkFeatures(cadence: Cadence(interval: shape.interval), horizons: shape.horizonSlots)
        let (S, C, H, Q) = (shape.steps * NetworkFeatures.stepCount, features.contextCount, shape.horizons, shape.quantiles.count)
        guard shape.features == NetworkFeatures.stepCount, shape.context == C, from > 0, to > from, maxWindows > 0 else { return nil }
        let first = shape.horizonSlots[0]
        var windows: [(series: Int, last: Int)] = []
        for (index, item) in series.enumerated() where measured(item.values, before: from) {
            let earliest = max((shape.steps - 1) * features.stride, from - first)
            let limit = min(item.values.count, to) - first
            guard limit >= earliest else { continue }
            for last in earliest..<limit where !item.values[last].isNaN && !item.values[last + first].isNaN { windows.append((index, last)) }
        }
        guard !windows.isEmpty else { return nil }
        if windows.count > maxWindows {
            let step = Double(windows.count) / Double(maxWindows)
            windows = (0..<maxWindows).map { windows[Int(Double($0) * step)] }
        }
        let scales = series.map { NetworkTrainer.scale(of: $0.values, before: from, floor: scaleFloor) }
        let otherScales = series.map { $0.other.map { NetworkTrainer.scale(of: $0, before: from, floor: scaleFloor) } ?? scaleFloor }
        var x = [Double](repeating: 0, count: batch * S), context = [Double](repeating: 0, count: batch * C)
        var y = [Double](repeating: .nan, count: batch * H)
        var pass = RecurrentNetwork.Pass(for: network)
        var scratch: [Double] = []
        var total = 0.0, terms = 0
        for start in stride(from: 0, to: windows.count, by: batch) {
            let count = min(batch, windows.count - start)
            for e in 0..<batch {
                // A short last batch repeats its first window; only `count` are scored.
                let (index, last) = windows[start + (e < count ? e : 0)]
                let item = series[index]
                let anchor = NetworkTrainer.fill(item, last: last, features: features, scale: scales[index], otherScale: otherScales[index],
                                                 startSlot: startSlot, steps: shape.steps, example: e, x: &x, context: &context, scratch: &scratch) ?? .nan
                for h in 0..<H {
                    let target = last + shape.horizonSlots[h]
                    // Only targets inside the validation slots count.
                    y[e * H + h] = target < min(to, item.values.count) ? (item.values[target] - anchor) / scales[index] : .nan
                }
            }
            network.forward(x, context: context, batch: batch, steps: shape.steps, pass: &pass)
            for e in 0..<count {
                for h in 0..<H {
                    let target = y[e * H + h]
                    guard target.isFinite else { continue }
                    for (k, q) in shape.quantiles.enumerated() {
                        let error = target - pass.output[e * H * Q + h * Q + k]
                        total += error >= 0 ? q * error : (q - 1) * error
                        terms += 1
                    }
                }
            }
        }
        let loss = terms > 0 ? total / Double(terms) : .nan
        return loss.isFinite ? loss : nil
    }

    /// Whether `values` has two consecutive samples before `from`.
    static func measured(_ values: [Double], before from: Int) -> Bool {
        (1..<max(1, min(from, values.count))).contains { !values[$0].isNaN && !values[$0 - 1].isNaN }
    }
}
