// Shapes: B batch, K outputs = horizons × quantiles, laid out [horizon][quantile].

/// The pinball (quantile) loss, averaged over the batch and outputs: for quantile q and
/// error e = y - ŷ, q·e when e ≥ 0 and (q - 1)·e otherwise. Outputs whose target is NaN
/// (a missing slot) are left out.
public struct PinballLoss: Sendable, Equatable {
    public let quantiles: [Double]

    public init(quantiles: [Double]) {
        precondition(quantiles.allSatisfy { $0 > 0 && $0 < 1 })
        self.quantiles = quantiles
    }

    /// predictions [B, H·Q], targets [B, H] → (mean loss, dL/dpredictions [B, H·Q]).
    public func evaluate(predictions: [Double], targets: [Double], batch: Int) -> (loss: Double, gradient: [Double]) {
        var gradient: [Double] = []
        let loss = evaluate(predictions: predictions, targets: targets, batch: batch, gradient: &gradient)
        return (loss, gradient)
    }

    /// predictions [B, H·Q], targets [B, H] → mean loss, with dL/dpredictions [B, H·Q] written
    /// into `gradient` (its storage reused).
    public func evaluate(predictions: [Double], targets: [Double], batch: Int, gradient: inout [Double]) -> Double {
        let perExample = predictions.count / batch
        let horizons = perExample / quantiles.count
        precondition(targets.count == batch * horizons, "targets must be [B, horizons]")
        gradient.resetToZeros(count: predictions.count)
        var total = 0.0
        var terms = 0
        for e in 0..<batch {
            for h in 0..<horizons {
                let y = targets[e * horizons + h]
                guard !y.isNaN else { continue }
                for (k, q) in quantiles.enumerated() {
                    let index = e * perExample + h * quantiles.count + k
                    let error = y - predictions[index]
                    total += error >= 0 ? q * error : (q - 1) * error
                    gradient[index] = error >= 0 ? -q : 1 - q
                    terms += 1
                }
            }
        }
        guard terms > 0 else { return 0 }
        let scale = 1 / Double(terms)
        for index in gradient.indices { gradient[index] *= scale }
        return total * scale
    }
}
