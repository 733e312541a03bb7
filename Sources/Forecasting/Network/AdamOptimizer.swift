#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Adam with gradient clipping by global norm.
public struct AdamOptimizer: Sendable {
    public var learningRate: Double
    public var beta1 = 0.9
    public var beta2 = 0.999
    public var epsilon = 1e-8
    /// Gradients whose global L2 norm exceeds this are scaled down to it.
    public var clipNorm = 1.0
    private var m: [Double]
    private var v: [Double]
    public private(set) var step = 0

    public init(parameterCount: Int, learningRate: Double = 1e-3) {
        self.learningRate = learningRate
        m = [Double](repeating: 0, count: parameterCount)
        v = [Double](repeating: 0, count: parameterCount)
    }

    /// Updates `parameters` from `gradients`; returns the gradient norm before clipping.
    @discardableResult
    public mutating func update(_ parameters: inout [Double], gradients: [Double]) -> Double {
        precondition(parameters.count == gradients.count && gradients.count == m.count)
        var squared = 0.0
        for g in gradients { squared += g * g }
        let norm = squared.squareRoot()
        let clip = norm > clipNorm ? clipNorm / norm : 1
        step += 1
        let correction1 = 1 - pow(beta1, Double(step))
        let correction2 = 1 - pow(beta2, Double(step))
        for i in parameters.indices {
            let g = gradients[i] * clip
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g * g
            parameters[i] -= learningRate * (m[i] / correction1) / ((v[i] / correction2).squareRoot() + epsilon)
        }
        return norm
    }
}
