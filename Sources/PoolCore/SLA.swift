/// What an instance is promised: a guaranteed minimum, a ceiling, and a priority weight
/// (higher is more important; it scales the cost of a shortfall).
public struct SLA: Sendable, Hashable, Codable {
    public var minimum: ResourceVector
    public var maximum: ResourceVector
    public var weight: Double

    public init(minimum: ResourceVector = .zero, maximum: ResourceVector, weight: Double = 1) {
        self.minimum = minimum
        self.maximum = maximum
        self.weight = weight
    }

    /// `allocation` moved into [minimum, maximum], componentwise.
    public func clamp(_ allocation: ResourceVector) -> ResourceVector {
        ResourceVector.maximum(minimum, ResourceVector.minimum(maximum, allocation))
    }
}
